"""Node-wide values stored with the data (read at start-up only, so plain SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from openkms.storage.schema import node_meta


def get_value(engine: Engine, name: str) -> bytes | None:
    with engine.connect() as conn:
        value = conn.execute(select(node_meta.c.value).where(node_meta.c.name == name)).scalar()
    return None if value is None else bytes(value)


def put_value_if_absent(engine: Engine, name: str, value: bytes) -> bytes:
    """Stores ``value`` unless a value is already there; returns the stored value (first writer wins)."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(node_meta).values(name=name, value=value))
    except IntegrityError:
        stored = get_value(engine, name)
        if stored is None:  # pragma: no cover - the row cannot vanish: nothing deletes it
            raise
        return stored
    return value
