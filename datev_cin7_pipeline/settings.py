"""Where the connector keeps its files: the home folder and the state database URL.

`DATEV_CIN7_HOME` names the home folder; unset, it is `$XDG_DATA_HOME/datev-cin7` (by default
`~/.local/share/datev-cin7`). `DATEV_CIN7_DATABASE_URL` points the state store at any database
SQLAlchemy can reach (PostgreSQL in production); unset, it is the SQLite file `state.db` in the home.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "DATEV_CIN7_HOME"
DATABASE_URL_ENV = "DATEV_CIN7_DATABASE_URL"
CONNECTION_ENV = "DATEV_CIN7_CONNECTION"  # the connection a Dagster code location serves
SECRET_KEY_ENV = "DATEV_CIN7_SECRET_KEY"  # noqa: S105 - the name of a variable, not a secret

DATABASE_FILE = "state.db"
KEY_FILE = "secret.key"
CONNECTIONS_FILE = "connections.yaml"


def home_dir() -> Path:
    """The home folder (not created here)."""
    configured = os.environ.get(HOME_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    data_home = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(data_home).expanduser() if data_home else Path.home() / ".local" / "share"
    return (base / "datev-cin7").resolve()


def ensure_home_dir() -> Path:
    """Create the home folder readable by the owner only, and return it."""
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def database_url() -> str:
    configured = os.environ.get(DATABASE_URL_ENV, "").strip()
    if configured:
        return configured
    return f"sqlite:///{home_dir() / DATABASE_FILE}"


def key_file_path() -> Path:
    return home_dir() / KEY_FILE


def connections_file_path() -> Path:
    return home_dir() / CONNECTIONS_FILE


def pinned_connection() -> str | None:
    """The one connection a Dagster code location serves when DATEV_CIN7_CONNECTION names it."""
    return os.environ.get(CONNECTION_ENV, "").strip() or None
