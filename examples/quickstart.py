"""The README's quick start: steps, a fan-out, a condition. Run it with

cadencia run examples/quickstart.py -p n=5
"""

from cadencia import pipeline, step, when


@step
def numbers(n: int) -> list[int]:
    """A list whose length is known only at run time."""
    return list(range(1, n + 1))


@step(retries=2, retry_delay=0.5, timeout=30)
def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x


@step
def total(values: list[int]) -> int:
    return sum(values)


@step
def is_large(value: int, threshold: int) -> bool:
    return value > threshold


@step
def announce(value: int) -> str:
    message = f"the sum of squares is {value}"
    print(message)
    return message


@pipeline
def quickstart(n: int = 10, threshold: int = 100):
    squares = square.map(numbers(n))  # one task per number, decided at run time
    result = total(squares)  # fan-in: receives the list of all squares
    with when(is_large(result, threshold)):
        announce(result)
