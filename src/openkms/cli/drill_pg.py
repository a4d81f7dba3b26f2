"""The PostgreSQL side of the restore drill: pg_dump, createdb, pg_restore and dropdb.

The client tools are given the connection through libpq's environment (PGHOST, PGPASSWORD ...),
never on their command lines, so the password is in no process listing and no message; ``-w``
keeps them from prompting when a password is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# The URL query parameters that have a libpq environment variable (sslmode=... and friends).
_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
}
TOOLS = ("pg_dump", "pg_restore", "createdb", "dropdb")


class DrillError(Exception):
    """A step of the drill failed; the message is for the operator and carries no secret."""


@dataclass(frozen=True)
class Database:
    """One PostgreSQL database, as openkms names it (a SQLAlchemy URL) and as libpq reaches it."""

    url: URL = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> Database:
        try:
            url = make_url(text)
        except ArgumentError:
            raise DrillError("the database URL is not a URL (expected postgresql+psycopg://user@host/db)") from None
        if url.get_backend_name() != "postgresql" or not url.database:
            raise DrillError("the database URL must name a PostgreSQL database (postgresql+psycopg://user@host/db)")
        unknown = sorted(set(url.query) - set(_QUERY_ENV))
        if unknown:
            raise DrillError(f"the database URL's query parameters {unknown} have no libpq equivalent here")
        if url.drivername == "postgresql":  # openkms's store speaks psycopg 3
            url = url.set(drivername="postgresql+psycopg")
        return cls(url)

    @property
    def name(self) -> str:
        return str(self.url.database)

    @property
    def shown(self) -> str:
        """For the operator: the URL without its password."""
        return self.url.render_as_string(hide_password=True)

    @property
    def openkms_url(self) -> str:
        """For ``OPENKMS_DATABASE_URL`` (in a child's environment only)."""
        return self.url.render_as_string(hide_password=False)

    def named(self, name: str) -> Database:
        return replace(self, url=self.url.set(database=name))

    def libpq_env(self) -> dict[str, str]:
        env = {"PGDATABASE": self.name}
        for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("username", "PGUSER"), ("password", "PGPASSWORD")):
            value = getattr(self.url, key)
            if value is not None:
                env[var] = str(value)
        for key, value in self.url.query.items():
            env[_QUERY_ENV[key]] = value if isinstance(value, str) else value[-1]
        return env


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def _run(db: Database, what: str, *command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(db.libpq_env())
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = " / ".join(line.strip() for line in done.stderr.strip().splitlines()[-3:]) or "no message"
        raise DrillError(f"{what} failed (exit {done.returncode}): {said}")


def dump(db: Database, file: Path) -> None:
    """A custom-format dump (compressed, restorable table by table) of the whole database."""
    _run(db, "pg_dump", "pg_dump", "-w", "--format=custom", f"--file={file}", f"--dbname={db.name}")


def create(db: Database, maintenance: str) -> None:
    _run(db, "createdb", "createdb", "-w", f"--maintenance-db={maintenance}", db.name)


def restore(db: Database, file: Path) -> None:
    """Into an empty database; roles may differ on the restore side, so objects take the restoring
    user as owner (``--no-owner``), and the first error stops it (``--exit-on-error``)."""
    _run(db, "pg_restore", "pg_restore", "-w", "--exit-on-error", "--no-owner", f"--dbname={db.name}", str(file))


def drop(db: Database, maintenance: str) -> None:
    _run(db, "dropdb", "dropdb", "-w", f"--maintenance-db={maintenance}", "--if-exists", db.name)
