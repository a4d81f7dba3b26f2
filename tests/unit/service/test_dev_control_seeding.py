"""The control API's seed service is made at its first use (a seed loaded, a reset to it, an
export), once, and not at a dev server's start (issue 16)."""

from __future__ import annotations

import threading
from pathlib import Path

from openkms import bootstrap
from openkms.service.seeding import SeedService
from openkms.settings import Settings


def test_made_once_at_first_use(tmp_path: Path) -> None:
    settings = Settings.load(env={}, dev=True, data_dir=tmp_path / "data")
    bootstrap.prepare(settings)
    runtime = bootstrap.build(settings)
    try:
        control = runtime.control
        assert control is not None
        assert control._seeding is None  # the start made none
        made: list[SeedService | None] = []
        threads = [threading.Thread(target=lambda: made.append(control.seeding)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert isinstance(made[0], SeedService)
        assert all(seeding is made[0] for seeding in made)
        seed, skipped = made[0].export()  # and it works: the empty server's data
        assert seed.keys == ()
        assert skipped == []
    finally:
        runtime.close()
