"""How the CLI shows runs, plans and lineage: rich tables for people, JSON for scripts.

rich is imported only when a table is drawn, so scripted calls stay fast.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import click

from cadencia.store.records import RunRecord, TaskRecord, TaskState

if TYPE_CHECKING:
    from cadencia.client import Lineage, RunView
    from cadencia.engine.events import RunObserver
    from cadencia.engine.planner import Plan

STATE_STYLE = {
    "success": "green",
    "cached": "cyan",
    "skipped": "dim",
    "failed": "bold red",
    "upstream_failed": "red",
    "running": "yellow",
    "retrying": "magenta",
    "queued": "dim",
}


def _console() -> Any:
    from rich.console import Console

    # Piped to a file or another program: wide enough that run ids are never cut.
    width = None if sys.stdout.isatty() else 200
    return Console(highlight=False, soft_wrap=False, width=width)


def _time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# -- JSON ------------------------------------------------------------------------------


def run_header_json(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "pipeline": run.pipeline_name,
        "state": str(run.state),
        "params": run.params,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration": run.duration,
        "error": run.error,
        "code_version": run.code_version,
        "source": run.source,
        "options": run.options,
    }


def run_json(view: RunView) -> dict[str, Any]:
    outputs: dict[str, list[dict[str, Any]]] = {}
    for record in view.outputs:
        outputs.setdefault(record.task_name, []).append(
            {
                "name": record.output_name,
                "position": record.position,
                "digest": record.digest,
                "materializer": record.materializer,
                "type": record.type_name,
                "size": record.size,
            }
        )
    data = run_header_json(view.record)
    data["tasks"] = [
        {
            "task": task.task_name,
            "step": task.node_name,
            "map_index": task.map_index,
            "map_size": task.map_size,
            "state": str(task.state),
            "attempts": task.attempt,
            "started_at": task.started_at,
            "ended_at": task.ended_at,
            "duration": task.duration,
            "cache_key": task.cache_key,
            "cached_from": task.cached_from,
            "error": task.error,
            "outputs": outputs.get(task.task_name, []),
        }
        for task in view.tasks
    ]
    return data


def lineage_json(lineage: Lineage) -> dict[str, Any]:
    return {
        "digest": lineage.digest,
        "produced_by": [
            {
                "run_id": o.run_id,
                "task": o.task_name,
                "output": o.output_name,
                "position": o.position,
                "inputs": [
                    {"input": i.input_name, "position": i.position, "digest": i.digest}
                    for i in lineage.inputs_of(o)
                ],
            }
            for o in lineage.produced_by
        ],
        "inputs": [
            {
                "run_id": i.run_id,
                "task": i.task_name,
                "input": i.input_name,
                "position": i.position,
                "digest": i.digest,
            }
            for i in lineage.inputs
        ],
        "read_by": [
            {"run_id": i.run_id, "task": i.task_name, "input": i.input_name, "position": i.position}
            for i in lineage.read_by
        ],
    }


# -- text ------------------------------------------------------------------------------


def _counts(tasks: list[TaskRecord]) -> str:
    counts = Counter(
        str(t.state) for t in tasks if not (t.map_size is not None and t.map_index is None)
    )
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def run_summary(view: RunView) -> None:
    run = view.record
    click.echo(
        f"run {run.run_id} ({run.pipeline_name}) {run.state} in {_duration(run.duration)}: "
        f"{_counts(view.tasks)}"
    )
    if run.state != "success":
        for task in view.tasks:
            if task.state == TaskState.FAILED and task.error:
                attempt = f" (attempt {task.attempt})" if task.attempt else ""
                click.echo(f"\n--- {task.task_name} failed{attempt} ---", err=True)
                click.echo(task.error.rstrip(), err=True)
                break
        click.echo(
            f"\nDetails: cadencia show {run.run_id}   Logs: cadencia logs {run.run_id} STEP   "
            f"Finish it: cadencia resume {run.run_id}",
            err=True,
        )


def runs_table(views: list[RunView]) -> None:
    from rich.table import Table

    table = Table(title=None, box=None, pad_edge=False)
    for column in ("run id", "pipeline", "state", "started", "duration", "params"):
        table.add_column(column)
    for view in views:
        run = view.record
        params = " ".join(f"{k}={v}" for k, v in run.params.items())
        params = params if len(params) <= 60 else params[:59] + "…"
        table.add_row(
            run.run_id,
            run.pipeline_name,
            f"[{STATE_STYLE.get(str(run.state), '')}]{run.state}[/]",
            _time(run.started_at),
            _duration(run.duration),
            params,
        )
    _console().print(table)


def run_detail(view: RunView) -> None:
    from rich.table import Table

    run = view.record
    console = _console()
    console.print(
        f"[bold]run {run.run_id}[/] pipeline [bold]{run.pipeline_name}[/] "
        f"[{STATE_STYLE.get(str(run.state), '')}]{run.state}[/]"
    )
    params = ", ".join(f"{k}={v}" for k, v in run.params.items()) or "none"
    console.print(
        f"params: {params}   started: {_time(run.started_at)}   duration: {_duration(run.duration)}"
    )
    if run.code_version:
        console.print(f"code version: {run.code_version}")
    if run.error:
        console.print(f"[red]{run.error}[/]")
    outputs: dict[str, list[str]] = {}
    for record in view.outputs:
        if record.position == -1:
            label = "" if record.output_name == "return" else f"{record.output_name}="
            short = record.digest.split(":", 1)[1][:12]
            outputs.setdefault(record.task_name, []).append(
                f"{label}{short} {record.materializer.split('@')[0]} {_size(record.size)}"
            )
    table = Table(box=None, pad_edge=False)
    for column in ("step", "state", "attempts", "duration", "outputs", "note"):
        table.add_column(column)
    for task in view.tasks:
        note = ""
        if task.cached_from:
            note = f"from {task.cached_from}"
        elif task.error and task.error.strip():
            note = task.error.strip().splitlines()[-1][:70]
        elif task.map_size is not None and task.map_index is None:
            note = f"{task.map_size} tasks"
        is_fan_out = task.map_size is not None and task.map_index is None
        table.add_row(
            ("  " if task.map_index is not None else "") + task.task_name,
            f"[{STATE_STYLE.get(str(task.state), '')}]{task.state}[/]",
            "-" if is_fan_out or task.attempt == 0 else str(task.attempt),
            _duration(task.duration),
            "; ".join(outputs.get(task.task_name, [])),
            note,
        )
    console.print(table)


def plan_table(plan: Plan) -> None:
    from rich.table import Table

    console = _console()
    console.print(f"plan for [bold]{plan.pipeline_name}[/] ({plan.summary()})")
    table = Table(box=None, pad_edge=False)
    for column in ("step", "decision", "why"):
        table.add_column(column)
    styles = {"run": "yellow", "cached": "cyan", "skip": "dim", "unknown": "magenta"}
    for entry in plan.steps:
        table.add_row(
            entry.step_name, f"[{styles.get(entry.decision, '')}]{entry.decision}[/]", entry.reason
        )
    console.print(table)


def lineage_text(lineage: Lineage, focus: tuple[str, str] | None = None) -> None:
    """Producers first (the asked-for task first of all), then readers.

    Artifacts are content-addressed: other tasks that produced the same bytes
    share the artifact, and are listed as such.
    """
    click.echo(f"artifact {lineage.digest}")
    producers = sorted(lineage.produced_by, key=lambda o: (o.run_id, o.task_name) != focus)
    for index, output in enumerate(producers):
        mine = focus is None or (output.run_id, output.task_name) == focus
        verb = "produced by" if mine or index == 0 else "same bytes also produced by"
        click.echo(f"  {verb} {output.run_id} {output.task_name} (output {output.output_name})")
        for record in lineage.inputs_of(output):
            where = "" if record.position < 0 else f"[{record.position}]"
            click.echo(f"    from input {record.input_name}{where}: {record.digest}")
    for record in lineage.read_by:
        click.echo(f"  read by {record.run_id} {record.task_name} (input {record.input_name})")


def live_observer(*, enabled: bool) -> RunObserver | None:
    """The live terminal view, when a person is watching (stdout is a terminal)."""
    if not enabled or not sys.stdout.isatty():
        return None
    from cadencia.cli.progress import LiveView

    return LiveView()
