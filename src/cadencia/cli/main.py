"""The ``cadencia`` command: thin wrappers over the Python API.

Exit codes: 0 success, 1 the run failed (or an operation failed), 2 usage or
validation error (nothing was run or written). Errors cadencia raises on
purpose print as ``headline: message``; anything else is a bug and prints
its traceback. ``--json`` gives scripts a stable shape; people get tables.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from cadencia.errors import CadenciaError, UsageError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(exc: CadenciaError) -> None:
    click.echo(f"{exc.headline}: {exc}", err=True)
    sys.exit(exc.exit_code)


class _Group(click.Group):
    """Turns cadencia's own errors into ``headline: message`` and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CadenciaError as exc:
            _fail(exc)
        except KeyboardInterrupt:
            click.echo(
                "\ninterrupted: a run in progress was recorded as failed; "
                "'cadencia runs' lists it and 'cadencia resume RUN_ID' finishes it",
                err=True,
            )
            sys.exit(130)


def _settings(home: str | None) -> Any:
    from cadencia.store.config import Settings

    return Settings.resolve(home)


def _parse_params(values: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"-p {item!r} is not NAME=VALUE; write it like -p n=5")
        params[name.strip()] = value
    return params


def _home_option(fn: F) -> F:
    return click.option(
        "--home",
        envvar="CADENCIA_HOME",
        type=click.Path(file_okay=False),
        help="Where runs, artifacts and logs live (default ./.cadencia; env CADENCIA_HOME).",
    )(fn)


def _json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)


def _params_option(fn: F) -> F:
    return click.option(
        "-p",
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set a pipeline parameter (repeatable); parsed by its annotation.",
    )(fn)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cadencia")
def cli() -> None:
    """cadencia: machine-learning pipelines as plain Python."""


@cli.command()
@click.argument("target")
@_params_option
@click.option(
    "--executor",
    default="process",
    show_default=True,
    help="Where steps run: process (a pool of workers) or inline (this process, for debugging).",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes (default: CPU count)."
)
@click.option("--no-cache", is_flag=True, help="Run every step even if a cached result exists.")
@click.option(
    "--continue-on-failure", is_flag=True, help="Keep running branches independent of a failure."
)
@click.option(
    "--create-only",
    is_flag=True,
    help="Record the run with every step queued and print its id; run steps with 'task run'.",
)
@_home_option
@_json_option
def run(
    target: str,
    params: tuple[str, ...],
    executor: str,
    workers: int | None,
    no_cache: bool,
    continue_on_failure: bool,
    create_only: bool,
    home: str | None,
    as_json: bool,
) -> None:
    """Run a pipeline: TARGET is FILE.py[:PIPELINE] or package.module:PIPELINE."""
    from cadencia.cli import render
    from cadencia.engine.session import RunOptions, create_run, prepare_graph, start_run
    from cadencia.engine.source import load_target

    pipeline, source = load_target(target)
    graph = prepare_graph(pipeline, _parse_params(params), from_text=True)
    settings = _settings(home)
    options = RunOptions(executor, workers, not no_cache, continue_on_failure)
    if create_only:
        created, _ = create_run(graph, pipeline, source, settings, options)
        click.echo(json.dumps({"run_id": created.run_id}) if as_json else created.run_id)
        return
    observer = render.live_observer(enabled=not as_json)
    record = start_run(graph, pipeline, source, settings, options, observer)
    _report_run(record.run_id, settings, as_json)


def _report_run(run_id: str, settings: Any, as_json: bool) -> None:
    from cadencia.cli import render
    from cadencia.client import Client

    with Client(settings=settings) as client:
        view = client.run(run_id)
        if as_json:
            click.echo(json.dumps(render.run_json(view), indent=2))
        else:
            render.run_summary(view)
        sys.exit(0 if view.state == "success" else 1)


@cli.command()
@click.argument("target")
@_params_option
@click.option("--no-cache", is_flag=True, help="Plan as if caching were off.")
@_home_option
@_json_option
def plan(
    target: str, params: tuple[str, ...], no_cache: bool, home: str | None, as_json: bool
) -> None:
    """Show what running TARGET would do, step by step, and why. Runs and writes nothing."""
    from cadencia.cli import render
    from cadencia.engine.planner import make_plan
    from cadencia.engine.session import prepare_graph
    from cadencia.engine.source import load_target

    pipeline, _ = load_target(target)
    graph = prepare_graph(pipeline, _parse_params(params), from_text=True)
    result = make_plan(graph, _settings(home), use_cache=not no_cache)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        render.plan_table(result)


@cli.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--pipeline", help="Only runs of this pipeline.")
@_home_option
@_json_option
def runs(limit: int, pipeline: str | None, home: str | None, as_json: bool) -> None:
    """List recent runs, newest first."""
    from cadencia.cli import render
    from cadencia.client import Client

    settings = _settings(home)
    if not _has_store(settings):
        click.echo("[]" if as_json else f"no runs yet in {settings.home}")
        return
    with Client(settings=settings) as client:
        views = client.runs(limit, pipeline)
        if as_json:
            click.echo(json.dumps([render.run_header_json(v.record) for v in views], indent=2))
        else:
            render.runs_table(views)


def _has_store(settings: Any) -> bool:
    return bool(settings.metadata_exists())


@cli.command()
@click.argument("run_id")
@_home_option
@_json_option
def show(run_id: str, home: str | None, as_json: bool) -> None:
    """Show a run: state, per-task state, duration, attempts and artifacts."""
    from cadencia.cli import render
    from cadencia.client import Client

    with Client(settings=_existing(home, run_id)) as client:
        view = client.run(run_id)
        if as_json:
            click.echo(json.dumps(render.run_json(view), indent=2))
        else:
            render.run_detail(view)


def _existing(home: str | None, run_id: str) -> Any:
    return _existing_store(home, f"run with id {run_id!r}")


def _existing_store(home: str | None, what: str) -> Any:
    """The settings of a home that has a store; reading commands never create one."""
    from cadencia.errors import NotFoundError

    settings = _settings(home)
    if not _has_store(settings):
        raise NotFoundError(f"no {what}: there is no cadencia store in {settings.home}")
    return settings


@cli.command()
@click.argument("run_id")
@click.argument("step")
@_home_option
def logs(run_id: str, step: str, home: str | None) -> None:
    """Print the captured stdout, stderr and logging of a step (STEP or STEP[i])."""
    from cadencia.client import Client

    with Client(settings=_existing(home, run_id)) as client:
        view = client.run(run_id)
        task = view.task(step)
        text = view.log(step)
        if not text and task.cached_from:
            origin_run, _, origin_task = task.cached_from.partition("/")
            click.echo(
                f"(step {step} was not run: its result came from the cache, from "
                f"{task.cached_from}; that run's output: cadencia logs {origin_run} {origin_task})",
                err=True,
            )
        elif text:
            click.echo(text, nl=not text.endswith("\n"))
        elif task.error:
            click.echo(task.error)
        else:
            click.echo(f"(step {step} wrote no output; state {task.state})", err=True)


@cli.command()
@click.argument("run_id")
@click.option("--executor", default=None, help="Override the executor the run started with.")
@_home_option
@_json_option
def resume(run_id: str, executor: str | None, home: str | None, as_json: bool) -> None:
    """Finish a failed or interrupted run; steps that succeeded do not run again."""
    from cadencia.cli import render
    from cadencia.engine.session import resume_run

    settings = _existing(home, run_id)
    resume_run(run_id, settings, render.live_observer(enabled=not as_json), executor)
    _report_run(run_id, settings, as_json)


@cli.group()
def task() -> None:
    """Work on single tasks of a recorded run."""


@task.command("run")
@click.argument("run_id")
@click.argument("step")
@_home_option
@_json_option
def task_run(run_id: str, step: str, home: str | None, as_json: bool) -> None:
    """Run one step of a recorded run in this process (what Airflow and remote executors call)."""
    from cadencia.engine.session import run_single_task

    record = run_single_task(run_id, step, _existing(home, run_id))
    if as_json:
        click.echo(json.dumps({"run_id": run_id, "task": step, "state": str(record.state)}))
    else:
        click.echo(f"{run_id} {step}: {record.state}")
        if record.error and record.state == "failed":
            click.echo(record.error, err=True)
    sys.exit(0 if record.state.has_outputs or record.state == "skipped" else 1)


@cli.command()
@click.argument("ref", nargs=-1, required=True)
@_home_option
@_json_option
def lineage(ref: tuple[str, ...], home: str | None, as_json: bool) -> None:
    """Where an artifact came from and where it went: DIGEST, or RUN_ID STEP [OUTPUT]."""
    from cadencia.cli import render
    from cadencia.client import Client

    if len(ref) > 3:
        raise UsageError("lineage takes DIGEST, or RUN_ID STEP [OUTPUT]")
    what = f"artifact {ref[0]!r}" if len(ref) == 1 else f"run with id {ref[0]!r}"
    settings = _existing_store(home, what)
    with Client(settings=settings) as client:
        focus = None
        if len(ref) == 1:
            digest = ref[0]
        elif len(ref) in (2, 3):
            output = ref[2] if len(ref) == 3 else "return"
            digest = client.run(ref[0]).output_record(ref[1], output).digest
            focus = (ref[0], ref[1])
        else:
            raise UsageError("lineage takes DIGEST, or RUN_ID STEP [OUTPUT]")
        result = client.lineage(digest)
        if as_json:
            click.echo(json.dumps(render.lineage_json(result), indent=2))
        else:
            render.lineage_text(result, focus)


from cadencia.cli.demo import demo  # noqa: E402 - the ML lifecycle demo (issue 3)

cli.add_command(demo)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="cadencia")
    except CadenciaError as exc:  # raised outside a command (e.g. while parsing)
        _fail(exc)


if __name__ == "__main__":
    main()
