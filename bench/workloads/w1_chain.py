from cadencia import pipeline, step


@step
def link(previous: int) -> int:
    return previous + 1


@pipeline
def w1(length: int = 100):
    value = link(0)
    for _ in range(length - 1):
        value = link(value)
