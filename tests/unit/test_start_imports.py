"""What a server's start does not import: packages that only some starts need, kept off the path
of ``openkms serve --dev`` (issue 16: ready in under a second; ``benchmarks/dev_start.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# package: who needs it instead
DEFERRED = {
    "alembic": "a database behind the head revision (storage/migrate.py)",
    "jsonschema": "a server given a seed file (seedfile/__init__.py)",
    "pkcs11": "the first use of a PKCS#11 token (crypto/pkcs11_keys.py)",
}


@pytest.mark.parametrize("package", sorted(DEFERRED))
def test_the_server_modules_do_not_import(package: str) -> None:
    program = (
        "import sys, openkms.cli.main, openkms.asgi\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] == {package!r}))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n", f"{package} is imported at start; only {DEFERRED[package]} needs it"
