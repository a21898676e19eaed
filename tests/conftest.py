"""Fixtures shared by the whole suite: an isolated cadencia home, PostgreSQL, pipeline files."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get(
    "CADENCIA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CADENCIA_HOME for the test; nothing leaks between tests."""
    path = tmp_path / "home"
    monkeypatch.setenv("CADENCIA_HOME", str(path))
    monkeypatch.delenv("CADENCIA_DB_URL", raising=False)
    monkeypatch.delenv("CADENCIA_ARTIFACTS_URL", raising=False)
    return path


@pytest.fixture
def write_pipeline(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a pipeline module (dedented) under a unique name and return its path."""

    def write(source: str, name: str = "") -> Path:
        path = tmp_path / f"{name or 'flow_' + uuid.uuid4().hex[:8]}.py"
        path.write_text(textwrap.dedent(source))
        return path

    return write


def _postgres_available(url: str) -> str | None:
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "no server here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a reachable PostgreSQL server, or a visible skip (a failure in CI)."""
    problem = _postgres_available(POSTGRES_URL)
    if problem is not None:
        message = f"PostgreSQL not reachable at {POSTGRES_URL} ({problem})"
        if os.environ.get("CADENCIA_REQUIRE_POSTGRES"):
            pytest.fail(message + "; CADENCIA_REQUIRE_POSTGRES is set, so this is a failure")
        pytest.skip(message + "; set CADENCIA_TEST_POSTGRES_URL to test against one")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty schema on the PostgreSQL server for one test, dropped afterwards."""
    import sqlalchemy

    schema = f"cadencia_test_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()
