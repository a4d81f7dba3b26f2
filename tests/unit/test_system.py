"""Deterministic mode's ids: UUIDs made from the seed and a count, the same in every run."""

from __future__ import annotations

import uuid

from openkms.system import DeterministicIds


def test_the_same_seed_gives_the_same_ids_and_a_restart_starts_again() -> None:
    one, two = DeterministicIds("seed"), DeterministicIds("seed")
    first = [one.new_id() for _ in range(5)]
    assert first == [two.new_id() for _ in range(5)]
    assert len(set(first)) == 5
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in first)
    one.restart()
    assert [one.new_id() for _ in range(5)] == first
    assert DeterministicIds("other").new_id() not in first
