"""Where state lives: the cadencia home, the metadata DB URL and the artifact store URL.

Resolved from (in order) explicit arguments, the environment
(``CADENCIA_HOME``, ``CADENCIA_DB_URL``, ``CADENCIA_ARTIFACTS_URL``), and the
embedded defaults (``./.cadencia``, SQLite and a folder inside it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    artifacts_url: str

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @classmethod
    def resolve(
        cls,
        home: str | os.PathLike[str] | None = None,
        db_url: str | None = None,
        artifacts_url: str | None = None,
    ) -> Settings:
        root = Path(home or os.environ.get("CADENCIA_HOME") or ".cadencia").absolute()
        return cls(
            home=root,
            db_url=db_url
            or os.environ.get("CADENCIA_DB_URL")
            or f"sqlite:///{root / 'cadencia.db'}",
            artifacts_url=artifacts_url
            or os.environ.get("CADENCIA_ARTIFACTS_URL")
            or str(root / "artifacts"),
        )

    def metadata_exists(self) -> bool:
        """False only when the SQLite database does not exist yet (nothing was ever run).

        Reading commands check this first so that they never create a store.
        """
        if not self.db_url.startswith("sqlite:///"):
            return True
        path = self.db_url.removeprefix("sqlite:///").partition("?")[0]
        return path in ("", ":memory:") or Path(path).exists()

    def describe(self) -> dict[str, str]:
        """A loggable view: passwords in URLs are masked."""
        return {
            "home": str(self.home),
            "db_url": mask_url(self.db_url),
            "artifacts_url": mask_url(self.artifacts_url),
        }


def mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host/...`` (secrets are never logged)."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return url
    # The last '@' ends the credentials: a password may hold an unescaped '@'.
    credentials, _, host = authority.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}" if ":" in credentials else url
