"""The ``cadencia`` command, run as users run it: a real subprocess with its own home.

Exit codes: 0 success, 1 a failed run, 2 a usage or validation error — and for 2,
nothing is written: the home folder does not even exist afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli(home: Path, tmp_path: Path) -> Cli:
    """Run ``cadencia ARGS`` in a fresh process whose CADENCIA_HOME is ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCIA_")}
    env["CADENCIA_HOME"] = str(home)

    def run(*args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "cadencia.cli.main", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        if expect is not None:
            assert result.returncode == expect, (result.stdout, result.stderr)
        return result

    return run


@pytest.fixture
def flow(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(source: str, name: str = "flow") -> Path:
        path = tmp_path / "flows" / f"{name}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    return write


DEMO = """
import logging
from cadencia import pipeline, step

@step
def add_one(x: int) -> int:
    print(f"adding one to {x}")
    logging.getLogger("flow").warning("logged %s", x)
    return x + 1

@step
def total(values: list[int]) -> int:
    return sum(values)

@step
def count(n: int) -> int:
    return n * 2

@pipeline
def demo(n: int = 3, start: int = 0):
    xs = [add_one(start) for _ in range(n)]
    total(xs)
    count(n)
"""

FAILING = """
from cadencia import pipeline, step

@step
def first() -> int:
    return 1

@step
def boom(x: int) -> int:
    raise ValueError(f"bad value {x}")

@step
def later(x: int) -> int:
    return x

@pipeline
def failing():
    later(boom(first()))
"""

RUN_ID = re.compile(r"\b(\d{8}-\d{6}-[0-9a-f]{6})\b")


def run_id_of(text: str) -> str:
    match = RUN_ID.search(text)
    assert match, text
    return match.group(1)


# -- run -------------------------------------------------------------------------------


def test_run_prints_the_run_id_and_exits_0(cli: Cli, flow: Callable[..., Path], home: Path) -> None:
    result = cli("run", str(flow(DEMO)), "-p", "n=4", "--executor", "inline")
    run_id = run_id_of(result.stdout)
    assert result.stdout.startswith(f"run {run_id} (demo) success in ")
    assert result.stdout.rstrip().endswith(": 6 success")
    assert (home / "cadencia.db").exists()
    listed = json.loads(cli("runs", "--json").stdout)
    assert [(r["run_id"], r["state"], r["params"]) for r in listed] == [
        (run_id, "success", {"n": 4, "start": 0})
    ]


def test_run_json_shape(cli: Cli, flow: Callable[..., Path]) -> None:
    data = json.loads(cli("run", str(flow(DEMO)), "--json").stdout)
    assert RUN_ID.fullmatch(data["run_id"])
    assert set(data) == {
        "run_id", "pipeline", "state", "params", "created_at", "started_at", "ended_at",
        "duration", "error", "code_version", "source", "options", "tasks",
    }  # fmt: skip
    assert (data["pipeline"], data["state"], data["error"]) == ("demo", "success", None)
    assert data["source"]["kind"] == "file" and data["source"]["attribute"] == "demo"
    assert data["options"]["executor"] == "process"
    assert [t["task"] for t in data["tasks"]] == [
        "add_one",
        "add_one_2",
        "add_one_3",
        "total",
        "count",
    ]
    total = data["tasks"][3]
    assert set(total) == {
        "task", "step", "map_index", "map_size", "state", "attempts", "started_at", "ended_at",
        "duration", "cache_key", "cached_from", "error", "outputs",
    }  # fmt: skip
    assert (total["state"], total["attempts"]) == ("success", 1)
    (stored,) = total["outputs"]
    assert set(stored) == {"name", "position", "digest", "materializer", "type", "size"}
    assert (stored["name"], stored["type"], stored["materializer"]) == (
        "return",
        "builtins.int",
        "json@1",
    )


def test_a_failed_run_exits_1_with_the_traceback(cli: Cli, flow: Callable[..., Path]) -> None:
    result = cli("run", str(flow(FAILING)), expect=1)
    run_id = run_id_of(result.stdout)
    assert "failed" in result.stdout.splitlines()[0]
    assert "1 failed, 1 success, 1 upstream_failed" in result.stdout
    assert "--- boom failed (attempt 1) ---" in result.stderr
    assert 'raise ValueError(f"bad value {x}")' in result.stderr
    assert "ValueError: bad value 1" in result.stderr
    assert f"cadencia resume {run_id}" in result.stderr
    data = json.loads(cli("show", run_id, "--json").stdout)
    states = {t["task"]: t["state"] for t in data["tasks"]}
    assert states == {"first": "success", "boom": "failed", "later": "upstream_failed"}
    assert "ValueError: bad value 1" in data["tasks"][1]["error"]


def test_a_failed_run_with_json_still_exits_1(cli: Cli, flow: Callable[..., Path]) -> None:
    data = json.loads(cli("run", str(flow(FAILING)), "--json", expect=1).stdout)
    assert data["state"] == "failed"


# -- usage and validation errors: exit 2, nothing written ------------------------------


MULTI = """
from cadencia import pipeline, step

@step
def one() -> int:
    return 1

@pipeline
def first():
    one()

@pipeline
def second():
    one()
"""

CYCLE = """
from cadencia import pipeline, step

@step
def one(x: int) -> int:
    return x

@pipeline
def loop():
    a = one(1)
    b = one(a)
    a.after(b)
"""

BAD_OPTION = """
from cadencia import pipeline, step

@step(retry=3)
def one() -> int:
    return 1

@pipeline
def flow():
    one()
"""

SYNTAX = """
from cadencia import pipeline, step

@step
def one() -> int
    return 1
"""

IMPORT_FAILS = """
from cadencia import pipeline, step
import no_such_module_for_cadencia_tests
"""

UNSTORABLE = """
from cadencia import pipeline, step

@step
def one() -> set:
    return {1}

@pipeline
def flow():
    one()
"""

TYPE_MISMATCH = """
from cadencia import pipeline, step

@step
def one() -> str:
    return "1"

@step
def two(x: int) -> int:
    return x

@pipeline
def flow():
    two(one())
"""


def expect_usage_error(
    cli: Cli, home: Path, args: list[str], stderr_pattern: str
) -> subprocess.CompletedProcess[str]:
    result = cli(*args, expect=2)
    assert re.search(stderr_pattern, result.stderr, re.DOTALL), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not home.exists(), sorted(p.name for p in home.rglob("*"))
    return result


def test_a_missing_file_is_a_usage_error(cli: Cli, home: Path, tmp_path: Path) -> None:
    expect_usage_error(
        cli,
        home,
        ["run", "missing.py"],
        rf"^cannot load pipeline: pipeline file {re.escape(str(tmp_path))}/missing\.py does "
        r"not exist; check the path\n$",
    )


def test_an_unknown_pipeline_name_lists_the_pipelines(
    cli: Cli, home: Path, flow: Callable[..., Path]
) -> None:
    path = flow(MULTI)
    expect_usage_error(
        cli,
        home,
        ["run", f"{path}:third"],
        rf"^cannot load pipeline: {re.escape(str(path))}: 'third' does not exist; pipelines "
        rf"defined there: first, second\. Use {re.escape(str(path))}:NAME\n$",
    )


def test_several_pipelines_need_a_name(cli: Cli, home: Path, flow: Callable[..., Path]) -> None:
    path = flow(MULTI)
    expect_usage_error(
        cli,
        home,
        ["run", str(path)],
        rf"^cannot load pipeline: {re.escape(str(path))} defines several pipelines \(first, "
        rf"second\); choose one with {re.escape(str(path))}:NAME\n$",
    )
    assert run_id_of(cli("run", f"{path}:second").stdout)


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        (
            ["-p", "m=1"],
            r"^invalid parameter: pipeline 'demo': unknown parameter 'm'; this pipeline's "
            r"parameters are: n, start\n$",
        ),
        (
            ["-p", "n=abc"],
            r"^invalid parameter: pipeline 'demo': parameter 'n' must be an "
            r"integer, got 'abc'\n$",
        ),
        (["-p", "n"], r"^usage error: -p 'n' is not NAME=VALUE; write it like -p n=5\n$"),
    ],
    ids=["unknown", "wrong-type", "not-name-value"],
)
def test_bad_parameters_are_usage_errors(
    cli: Cli, home: Path, flow: Callable[..., Path], params: list[str], pattern: str
) -> None:
    expect_usage_error(cli, home, ["run", str(flow(DEMO)), *params], pattern)


def test_a_cycle_is_a_usage_error_with_file_and_line(
    cli: Cli, home: Path, flow: Callable[..., Path]
) -> None:
    path = re.escape(str(flow(CYCLE)))
    expect_usage_error(
        cli,
        home,
        ["run", str(flow(CYCLE))],
        rf"^invalid pipeline: pipeline 'loop' has 1 problem:\n  - {path}:10: step 'one': the "
        rf"steps form a cycle: one -> one_2 -> one \(one called at {path}:10; one_2 called at "
        rf"{path}:11\)\. Remove one",
    )


def test_an_unknown_step_option_is_a_usage_error(
    cli: Cli, home: Path, flow: Callable[..., Path]
) -> None:
    path = flow(BAD_OPTION)
    expect_usage_error(
        cli,
        home,
        ["run", str(path)],
        rf"^invalid definition: {re.escape(str(path))}:4: unknown step option 'retry'\. Valid "
        r"options are: name, retries, ",
    )


def test_a_syntax_error_is_a_usage_error(cli: Cli, home: Path, flow: Callable[..., Path]) -> None:
    path = flow(SYNTAX)
    expect_usage_error(
        cli,
        home,
        ["run", str(path)],
        rf"^cannot load pipeline: {re.escape(str(path))}:5: syntax error: expected ':'\n$",
    )


def test_a_pipeline_file_that_fails_to_import_is_a_usage_error(
    cli: Cli, home: Path, flow: Callable[..., Path]
) -> None:
    path = flow(IMPORT_FAILS)
    expect_usage_error(
        cli,
        home,
        ["run", str(path)],
        rf"^cannot load pipeline: {re.escape(str(path))}:3: importing the pipeline file raised "
        r"ModuleNotFoundError: No module named 'no_such_module_for_cadencia_tests'\n$",
    )


def test_a_type_mismatch_is_a_usage_error(cli: Cli, home: Path, flow: Callable[..., Path]) -> None:
    path = flow(TYPE_MISMATCH)
    expect_usage_error(
        cli,
        home,
        ["plan", str(path)],
        rf"{re.escape(str(path))}:14: step 'two': argument 'x' is declared int but receives "
        r"step 'one' output, declared str",
    )


def test_an_unstorable_output_type_is_a_usage_error(
    cli: Cli, home: Path, flow: Callable[..., Path]
) -> None:
    expect_usage_error(
        cli,
        home,
        ["run", str(flow(UNSTORABLE))],
        r"step 'one': its output is declared set, which no materializer stores\. .*"
        r"@step\(pickle=True\)",
    )


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (
            ["run", "{flow}", "--executor", "bogus"],
            r"unknown executor 'bogus'; available "
            r"executors: inline, process",
        ),
        (["run", "{flow}", "--workers", "0"], r"Invalid value for '--workers'"),
        (["run"], r"Missing argument 'TARGET'"),
        (
            ["show", "20260101-000000-abcdef"],
            r"^not found: no run with id "
            r"'20260101-000000-abcdef': there is no cadencia store in ",
        ),
        (["logs", "20260101-000000-abcdef", "step"], r"^not found: no run with id"),
        (
            ["lineage", "blake3:" + "0" * 64],
            r"^not found: no artifact 'blake3:0+': there is no "
            r"cadencia store in ",
        ),
        (
            ["lineage", "a", "b", "c", "d"],
            r"^usage error: lineage takes DIGEST, or RUN_ID STEP "
            r"\[OUTPUT\]\n$",
        ),
        (["resume", "20260101-000000-abcdef"], r"^not found: no run with id"),
        (["task", "run", "20260101-000000-abcdef", "step"], r"^not found: no run with id"),
        (["frobnicate"], r"No such command 'frobnicate'"),
    ],
    ids=[
        "executor",
        "workers",
        "no-target",
        "show",
        "logs",
        "lineage",
        "lineage-args",
        "resume",
        "task-run",
        "command",
    ],
)
def test_other_usage_errors_write_nothing(
    cli: Cli, home: Path, flow: Callable[..., Path], args: list[str], pattern: str
) -> None:
    path = str(flow(DEMO))
    expect_usage_error(cli, home, [a.replace("{flow}", path) for a in args], pattern)


def test_runs_on_a_fresh_home_writes_nothing(cli: Cli, home: Path) -> None:
    assert cli("runs").stdout == f"no runs yet in {home}\n"
    assert json.loads(cli("runs", "--json").stdout) == []
    assert not home.exists()


def test_show_of_an_unknown_run_in_an_existing_home(cli: Cli, flow: Callable[..., Path]) -> None:
    cli("run", str(flow(DEMO)))
    result = cli("show", "nope", expect=2)
    assert re.fullmatch(
        r"not found: no run with id 'nope' in sqlite:///.+; list runs with 'cadencia runs'\n",
        result.stderr,
    )


# -- plan ------------------------------------------------------------------------------


def plan_reasons(cli: Cli, *args: str) -> dict[str, tuple[str, str]]:
    data = json.loads(cli("plan", *args, "--json").stdout)
    return {step["step"]: (step["decision"], step["reason"]) for step in data["steps"]}


def test_plan_on_a_fresh_home_writes_nothing(
    cli: Cli, home: Path, flow: Callable[..., Path]
) -> None:
    data = json.loads(cli("plan", str(flow(DEMO)), "--json").stdout)
    assert set(data) == {"pipeline", "params", "steps"}
    assert (data["pipeline"], data["params"]) == ("demo", {"n": 3, "start": 0})
    assert set(data["steps"][0]) == {
        "step", "decision", "reason", "cache_key", "cached_from", "tasks",
    }  # fmt: skip
    assert {s["step"]: (s["decision"], s["reason"]) for s in data["steps"]} == dict.fromkeys(
        ["add_one", "add_one_2", "add_one_3", "total", "count"],
        ("run", "no run has been recorded yet in this home"),
    )
    assert not home.exists()


def test_plan_explains_cache_hits_and_misses(cli: Cli, flow: Callable[..., Path]) -> None:
    path = flow(DEMO)
    run_id = run_id_of(cli("run", str(path), "-p", "n=4").stdout)

    same = plan_reasons(cli, str(path), "-p", "n=4")
    assert same["count"] == ("cached", f"same inputs and code as {run_id}/count")
    assert same["total"][0] == "cached"
    assert {decision for decision, _ in same.values()} == {"cached"}

    changed = plan_reasons(cli, str(path), "-p", "n=5")
    assert changed["count"] == ("run", f"argument n changed: 4 -> 5 (since run {run_id})")
    assert changed["add_one"][0] == "cached"
    assert changed["total"] == ("run", f"input values changed (since run {run_id})")

    no_cache = plan_reasons(cli, str(path), "-p", "n=4", "--no-cache")
    assert no_cache["count"] == ("run", "caching is off for this run (--no-cache)")

    path.write_text(path.read_text().replace("return n * 2", "return n * 20"))
    edited = plan_reasons(cli, str(path), "-p", "n=4")
    assert edited["count"] == ("run", f"its code changed (since run {run_id})")
    assert edited["add_one"][0] == "cached"


def test_plan_text_names_each_decision(cli: Cli, flow: Callable[..., Path]) -> None:
    path = flow(DEMO)
    cli("run", str(path))
    text = cli("plan", str(path), "-p", "n=2").stdout
    assert text.splitlines()[0] == "plan for demo (2 cached, 2 run)"
    assert re.search(r"count\s+run\s+argument n changed: 3 -> 2", text)
    assert re.search(r"add_one_2\s+cached\s+same inputs and code as", text)


def test_plan_runs_and_writes_nothing(cli: Cli, flow: Callable[..., Path], home: Path) -> None:
    path = flow(DEMO)
    cli("run", str(path))
    before = {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()}
    cli("plan", str(path), "-p", "n=7")
    after = {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()}
    assert len(json.loads(cli("runs", "--json").stdout)) == 1
    assert set(after) - set(before) <= {home / "cadencia.db-shm", home / "cadencia.db-wal"}


# -- show, runs, logs, lineage ---------------------------------------------------------


FLAKY = """
from pathlib import Path
from cadencia import pipeline, step

MARKER = Path(__file__).with_name("attempted")

@step(retries=2, retry_delay=0, jitter=0)
def flaky() -> list[int]:
    if not MARKER.exists():
        MARKER.write_text("once")
        raise RuntimeError("first attempt fails")
    return [1, 2, 3]

@step
def total(values: list[int]) -> int:
    print("summing", values)
    return sum(values)

@pipeline
def retried():
    total(flaky())
"""


def test_show_lists_attempts_and_artifacts(cli: Cli, flow: Callable[..., Path]) -> None:
    run_id = run_id_of(cli("run", str(flow(FLAKY)), "--executor", "inline").stdout)
    text = cli("show", run_id).stdout
    assert text.splitlines()[0] == f"run {run_id} pipeline retried success"
    assert re.search(r"^flaky\s+success\s+2\s+\S+ m?s\s+[0-9a-f]{12} json 7 B", text, re.M)
    assert re.search(r"^total\s+success\s+1\s+", text, re.M)
    data = json.loads(cli("show", run_id, "--json").stdout)
    flaky = data["tasks"][0]
    assert (flaky["task"], flaky["attempts"], flaky["state"]) == ("flaky", 2, "success")
    assert flaky["outputs"][0]["size"] == len(b"[1,2,3]")
    assert flaky["outputs"][0]["digest"].startswith("blake3:")


def test_logs_show_print_and_logging_output(cli: Cli, flow: Callable[..., Path]) -> None:
    run_id = run_id_of(cli("run", str(flow(DEMO))).stdout)
    text = cli("logs", run_id, "add_one_2").stdout
    assert "adding one to 0\n" in text
    assert re.search(r"WARNING flow: logged 0\n", text)
    quiet = cli("logs", run_id, "count")
    assert quiet.stdout == ""
    assert quiet.stderr == "(step count wrote no output; state success)\n"
    unknown = cli("logs", run_id, "nope", expect=2)
    assert unknown.stderr.startswith(f"not found: run {run_id} has no task 'nope'; its steps: ")


def test_logs_of_a_failed_step_show_its_traceback(cli: Cli, flow: Callable[..., Path]) -> None:
    run_id = run_id_of(cli("run", str(flow(FAILING)), expect=1).stdout)
    text = cli("logs", run_id, "boom").stdout
    assert "ValueError: bad value 1" in text


def test_runs_lists_newest_first(cli: Cli, flow: Callable[..., Path]) -> None:
    path = flow(DEMO)
    first = run_id_of(cli("run", str(path)).stdout)
    second = run_id_of(cli("run", str(path), "-p", "n=1").stdout)
    failed = run_id_of(cli("run", str(flow(FAILING, "other")), expect=1).stdout)
    listed = json.loads(cli("runs", "--json").stdout)
    assert [r["run_id"] for r in listed] == [failed, second, first]
    assert set(listed[0]) == {
        "run_id", "pipeline", "state", "params", "created_at", "started_at", "ended_at",
        "duration", "error", "code_version", "source", "options",
    }  # fmt: skip
    only_demo = json.loads(cli("runs", "--json", "--pipeline", "demo", "--limit", "1").stdout)
    assert [r["run_id"] for r in only_demo] == [second]
    text = cli("runs").stdout
    assert text.index(failed) < text.index(second) < text.index(first)
    assert re.search(rf"{failed}\s+failing\s+failed", text)


def test_lineage_of_a_step_output(cli: Cli, flow: Callable[..., Path]) -> None:
    run_id = run_id_of(cli("run", str(flow(DEMO)), "-p", "n=2").stdout)
    shown = json.loads(cli("show", run_id, "--json").stdout)
    digests = {t["task"]: t["outputs"][0]["digest"] for t in shown["tasks"]}
    data = json.loads(cli("lineage", run_id, "total", "--json").stdout)
    assert set(data) == {"digest", "produced_by", "inputs", "read_by"}
    assert data["digest"] == digests["total"]
    assert [(p["run_id"], p["task"], p["output"]) for p in data["produced_by"]] == [
        (run_id, "total", "return")
    ]
    assert [(i["input"], i["position"], i["digest"]) for i in data["inputs"]] == [
        ("values", 0, digests["add_one"]),
        ("values", 1, digests["add_one_2"]),
    ]
    assert data["read_by"] == []
    upstream = json.loads(cli("lineage", digests["add_one"], "--json").stdout)
    assert {(r["task"], r["input"]) for r in upstream["read_by"]} == {("total", "values")}
    text = cli("lineage", run_id, "total").stdout
    assert text.startswith(f"artifact {digests['total']}\n")
    assert f"produced by {run_id} total (output return)" in text


def test_the_version_option(cli: Cli) -> None:
    import cadencia

    assert cli("--version").stdout.strip().endswith(cadencia.__version__)
