"""How the restore drill hands a database URL to the PostgreSQL client tools: through libpq's
environment, the password never on a command line or in what the drill prints."""

from __future__ import annotations

import pytest

from openkms.cli.drill_pg import Database, DrillError


def test_the_url_becomes_libpq_environment_and_is_shown_without_its_password() -> None:
    db = Database.parse("postgresql+psycopg://kms:s3cret-Pa55@db.internal:6432/kms?sslmode=verify-full")
    assert db.libpq_env() == {
        "PGDATABASE": "kms",
        "PGHOST": "db.internal",
        "PGPORT": "6432",
        "PGUSER": "kms",
        "PGPASSWORD": "s3cret-Pa55",
        "PGSSLMODE": "verify-full",
    }
    assert db.shown == "postgresql+psycopg://kms:***@db.internal:6432/kms?sslmode=verify-full"
    assert "s3cret-Pa55" not in repr(db)
    copy = db.named("kms_drill_1")
    assert copy.libpq_env()["PGDATABASE"] == "kms_drill_1"
    assert copy.openkms_url == "postgresql+psycopg://kms:s3cret-Pa55@db.internal:6432/kms_drill_1?sslmode=verify-full"


def test_a_libpq_url_is_given_openkms_s_driver() -> None:
    assert Database.parse("postgresql://kms@db/kms").openkms_url == "postgresql+psycopg://kms@db/kms"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "the database URL is not a URL (expected postgresql+psycopg://user@host/db)"),
        ("sqlite:///kms.sqlite3", "the database URL must name a PostgreSQL database (postgresql+psycopg://user@host/db)"),
        ("postgresql+psycopg://kms@db", "the database URL must name a PostgreSQL database (postgresql+psycopg://user@host/db)"),
        (
            "postgresql+psycopg://kms@db/kms?prepare_threshold=0",
            "the database URL's query parameters ['prepare_threshold'] have no libpq equivalent here",
        ),
    ],
)  # fmt: skip
def test_urls_the_drill_cannot_use_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(DrillError) as refused:
        Database.parse(url)
    assert str(refused.value) == message
