from cadencia import pipeline, step


@step
def noop() -> None:
    return None


@pipeline
def w0():
    noop()
