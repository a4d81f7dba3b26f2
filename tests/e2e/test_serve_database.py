"""A database that cannot be opened stops every command at once with one line on stderr and status
2 (README: "A setting that cannot work ..."), never a traceback, and never with the password
that the database URL carries. Each case runs the real ``openkms`` command in a subprocess."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy import text as sql

from openkms.storage.factory import open_store
from tests.servers import free_port, run_openkms
from tests.stores import POSTGRES_ENV, POSTGRES_URL, database_url

PASSWORD = "s3cret-Pa55word"
COMMANDS = [["serve", "--port", "0"], ["accesskey", "list"], ["accesskey", "create"]]


def assert_one_line(result_stderr: str, *expected: str) -> None:
    assert result_stderr.startswith("openkms: configuration error: "), result_stderr[-2000:]
    assert result_stderr.endswith("\n")
    assert result_stderr.count("\n") == 1, result_stderr[-2000:]
    for text in expected:
        assert text in result_stderr
    assert PASSWORD not in result_stderr


def unreachable_postgres() -> str:
    """A PostgreSQL URL whose port nothing listens on (free_port closes the socket it found)."""
    return f"postgresql+psycopg://kms:{PASSWORD}@127.0.0.1:{free_port()}/kms"


NOT_A_URL = "the database URL (OPENKMS_DATABASE_URL or [storage] database_url) is not valid: expected"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("make_url", "expected"),
    [
        (unreachable_postgres, ["cannot connect to the database postgresql+psycopg://kms:***@127.0.0.1:"]),
        (lambda: f"postgresql+psycopg://kms:{PASSWORD}@127.0.0.1:notaport/kms", [NOT_A_URL]),
        (lambda: f"kms:{PASSWORD}@127.0.0.1/kms", [NOT_A_URL]),
        (lambda: f"nosuchdb://kms:{PASSWORD}@127.0.0.1/kms", ["no database driver for nosuchdb://kms:***@"]),
    ],
    ids=["closed port", "malformed port", "no scheme", "unknown dialect"],
)
def test_a_database_url_that_cannot_work(
    tmp_path: Path, command: list[str], make_url: Callable[[], str], expected: list[str]
) -> None:
    result = run_openkms(*command, "--data-dir", str(tmp_path / "data"), env={"OPENKMS_DATABASE_URL": make_url()})
    assert result.returncode == 2
    assert_one_line(result.stderr, *expected)
    assert result.stdout == ""  # no administrator pair was printed, none was made


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_data_directory_that_cannot_be_created(tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_openkms(*command, "--data-dir", str(blocker / "data"))
    assert result.returncode == 2
    assert_one_line(result.stderr, f"cannot create the data directory {blocker / 'data'}", "Not a directory")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_sqlite_database_in_a_directory_that_cannot_be_created(tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker}/sub/openkms.sqlite3"
    result = run_openkms(*command, "--data-dir", str(tmp_path / "data"), env={"OPENKMS_DATABASE_URL": url})
    assert result.returncode == 2
    assert_one_line(result.stderr, f"cannot open the database {url}")


@pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")
def test_a_postgresql_database_that_does_not_exist(tmp_path: Path) -> None:
    """The server answers, and refuses: its own reason is passed on, on the same one line."""
    url = make_url(POSTGRES_URL).set(database="openkms_no_such_db", password=PASSWORD)
    result = run_openkms(
        "accesskey",
        "list",
        "--data-dir",
        str(tmp_path / "data"),
        env={"OPENKMS_DATABASE_URL": url.render_as_string(hide_password=False)},
    )
    assert result.returncode == 2
    assert_one_line(result.stderr, "cannot connect to the database", 'database "openkms_no_such_db" does not exist')


@pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")
def test_a_node_older_than_the_database_schema_refuses_to_start(tmp_path: Path) -> None:
    """Another node, upgraded first, migrated the database to a revision this code does not know."""
    with database_url("postgres") as url:
        assert url is not None
        open_store(url, tmp_path / "unused.sqlite3").close()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(sql("UPDATE alembic_version SET version_num = '9999'"))
        engine.dispose()
        result = run_openkms(
            "serve", "--port", "0", "--data-dir", str(tmp_path / "data"), env={"OPENKMS_DATABASE_URL": url}
        )
    assert result.returncode == 2
    assert_one_line(
        result.stderr,
        "the database schema is at revision 9999, newer than this openkms knows",
        "upgrade openkms on this node before starting it",
    )
