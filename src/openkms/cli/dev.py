"""Dev mode's part of ``openkms serve --dev``: the throw-away data directory and the banner."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openkms.settings import Settings


@contextmanager
def data_dir(given: Path | None) -> Iterator[Path]:
    """``given`` as it is, kept; else a new directory, removed when the server stops."""
    if given is not None:
        yield given
        return
    made = Path(tempfile.mkdtemp(prefix="openkms-dev-"))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def announce(settings: Settings) -> None:
    """The pair is public (README, "Testing with openkms"): printing it leaks nothing."""
    sys.stdout.write(
        "openkms: DEV MODE - not for production: a well-known administrator pair, no quotas, "
        f"the control API at /_openkms/, data in {settings.data_dir}\n"
        f"  AccessKeyId:     {settings.admin_access_key_id}\n"
        f"  AccessKeySecret: {settings.admin_access_key_secret}\n"
        f"  RegionId:        {settings.default_region}\n"
    )
    if settings.seed_file is not None:
        sys.stdout.write(f"openkms: seeded from {settings.seed_file}; the control API's reset returns to it\n")
    if settings.deterministic:
        sys.stdout.write(
            "openkms: *** DETERMINISTIC MODE *** KeyIds, version ids and symmetric key material are made "
            "from the --deterministic seed and repeat on every run: anyone with the seed has the keys. "
            "IVs and nonces stay random.\n"
        )
    sys.stdout.flush()
