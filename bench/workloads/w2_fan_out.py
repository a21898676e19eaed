from cadencia import pipeline, step


@step
def source(width: int) -> list[int]:
    return list(range(width))


@step
def noop(item: int) -> int:
    return item


@step
def join(values: list[int]) -> int:
    return len(values)


@pipeline
def w2(width: int = 500):
    join(noop.map(source(width)))
