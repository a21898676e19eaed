"""Finding pipelines by module name from the current folder, and again from anywhere later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MODULE = """
from cadencia import pipeline, step

@step
def hello(name: str) -> str:
    return f"hello {name}"

@pipeline
def greet(name: str = "world"):
    hello(name)
"""


def cli(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadencia.cli.main", *args],
        cwd=cwd,
        env={**os.environ, "CADENCIA_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_module_in_the_current_folder_runs_and_its_tasks_run_from_elsewhere(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "greetings.py").write_text(MODULE)
    home = tmp_path / "home"
    created = cli(project, home, "run", "greetings:greet", "--create-only", "--json")
    assert created.returncode == 0, created.stderr
    run_id = json.loads(created.stdout)["run_id"]
    # Another folder: the module is not importable by name there, its recorded file is used.
    elsewhere = cli(tmp_path, home, "task", "run", run_id, "hello", "--json")
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert json.loads(elsewhere.stdout)["state"] == "success"
    shown = cli(tmp_path, home, "show", run_id, "--json")
    assert json.loads(shown.stdout)["source"]["path"] == str(project / "greetings.py")


def test_an_unknown_module_is_a_usage_error(tmp_path: Path) -> None:
    result = cli(tmp_path, tmp_path / "home", "run", "no_such_module:flow")
    assert result.returncode == 2
    assert "no module named 'no_such_module'" in result.stderr
    assert not (tmp_path / "home").exists()


def test_a_run_records_the_git_commit_of_its_pipeline(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "greetings.py").write_text(MODULE)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run([*git, "-C", str(project), "add", "."], check=True)
    subprocess.run([*git, "-C", str(project), "commit", "-qm", "first"], check=True)
    head = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    home = tmp_path / "home"
    for target in ("greetings.py", "greetings:greet"):
        created = cli(project, home, "run", target, "--json")
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["code_version"] == head
