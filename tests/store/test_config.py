"""Where state lives: arguments, then the environment, then the embedded defaults;
and no password ever shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadencia.store.config import Settings, mask_url


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CADENCIA_HOME", "CADENCIA_DB_URL", "CADENCIA_ARTIFACTS_URL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_live_in_dot_cadencia_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.resolve()
    assert settings.home == tmp_path / ".cadencia"
    assert settings.db_url == f"sqlite:///{tmp_path / '.cadencia' / 'cadencia.db'}"
    assert settings.artifacts_url == str(tmp_path / ".cadencia" / "artifacts")
    assert settings.logs_dir == tmp_path / ".cadencia" / "logs"


def test_the_environment_overrides_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCIA_HOME", str(tmp_path / "home"))
    assert Settings.resolve().db_url == f"sqlite:///{tmp_path / 'home' / 'cadencia.db'}"
    monkeypatch.setenv("CADENCIA_DB_URL", "postgresql://u:p@db/cadencia")
    monkeypatch.setenv("CADENCIA_ARTIFACTS_URL", "s3://bucket/artifacts")
    settings = Settings.resolve()
    assert settings.home == tmp_path / "home"
    assert settings.db_url == "postgresql://u:p@db/cadencia"
    assert settings.artifacts_url == "s3://bucket/artifacts"


def test_arguments_override_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCIA_HOME", str(tmp_path / "env"))
    monkeypatch.setenv("CADENCIA_DB_URL", "postgresql://env/db")
    settings = Settings.resolve(tmp_path / "arg", db_url="sqlite:///x.db", artifacts_url="mem")
    assert settings.home == tmp_path / "arg"
    assert (settings.db_url, settings.artifacts_url) == ("sqlite:///x.db", "mem")


def test_a_relative_home_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings.resolve("rel").home == tmp_path / "rel"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://user:secret@db:5432/x", "postgresql://user:***@db:5432/x"),
        (
            "postgresql+psycopg://u:p@h/db?sslmode=require",
            "postgresql+psycopg://u:***@h/db?sslmode=require",
        ),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("s3://key:secret@bucket/path", "s3://key:***@bucket/path"),
        ("postgresql://user@db/x", "postgresql://user@db/x"),
        ("postgresql://db/x", "postgresql://db/x"),
        ("sqlite:////tmp/a@b/cadencia.db", "sqlite:////tmp/a@b/cadencia.db"),
        ("/plain/path", "/plain/path"),
    ],
)
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_describe_masks_every_url(tmp_path: Path) -> None:
    settings = Settings.resolve(
        tmp_path, db_url="postgresql://u:topsecret@db/x", artifacts_url="s3://k:alsosecret@b/a"
    )
    described = settings.describe()
    assert described == {
        "home": str(tmp_path),
        "db_url": "postgresql://u:***@db/x",
        "artifacts_url": "s3://k:***@b/a",
    }
    assert "secret" not in repr(described)


@pytest.mark.parametrize("query", ["", "?mode=rwc"])
def test_metadata_exists_only_once_the_sqlite_file_does(tmp_path: Path, query: str) -> None:
    database = tmp_path / "home" / "cadencia.db"
    settings = Settings.resolve(tmp_path / "home", db_url=f"sqlite:///{database}{query}")
    assert not settings.metadata_exists()
    database.parent.mkdir()
    database.touch()
    assert settings.metadata_exists()
    assert Settings.resolve(tmp_path, db_url="postgresql://db/x").metadata_exists()
