"""Several openkms nodes on one database, in one process, and calls raced between them.

Two runtimes built by the composition root on the same database stand for two ``openkms serve``
nodes: each has its own engine and connection pool, exactly as two processes would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key

from openkms import bootstrap
from openkms.domain import errors
from openkms.domain.identity import Caller
from openkms.service.container import Services
from openkms.settings import Settings
from openkms.system import ManualClock
from tests.stores import database_url


@dataclass
class Cluster:
    nodes: list[Services]
    clock: ManualClock
    caller: Caller


@contextmanager
def two_nodes(adapter: str, tmp_path: Path, **settings: Any) -> Iterator[Cluster]:
    """Two runtimes on one database, sharing a manual clock."""
    with ExitStack() as stack:
        url = stack.enter_context(database_url(adapter))
        values: dict[str, Any] = {"rsa_pool_size": 0, "auto_softhsm": False, "keys_per_region": 100_000}
        values.update(settings)
        cfg = Settings.load(env={}, data_dir=tmp_path / "data", database_url=url, **values)
        bootstrap.prepare(cfg)
        clock = ManualClock()
        runtimes = [bootstrap.build(cfg, clock=clock) for _ in range(2)]
        for runtime in runtimes:
            stack.callback(runtime.close)
        issued = runtimes[0].services.identity.create_access_key(new_account=True)
        caller = Caller(issued.access_key.account_uid, "cn-hangzhou", issued.access_key.id)
        yield Cluster([r.services for r in runtimes], clock, caller)


Outcome = tuple[str, Any]  # ("ok", result) or ("err", the domain error's class name)


def race(*calls: Callable[[], Any]) -> list[Outcome]:
    """Run the calls at once (released together at a barrier); each one's outcome, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Outcome:
        barrier.wait()
        try:
            return ("ok", call())
        except errors.KmsError as exc:
            return ("err", type(exc).__name__)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def oks(outcomes: list[Outcome]) -> int:
    return sum(1 for kind, _ in outcomes if kind == "ok")


def errs(outcomes: list[Outcome]) -> list[str]:
    return [name for kind, name in outcomes if kind == "err"]


def wrap_for_import(public_der: bytes, material: bytes, sha1: bool = False) -> bytes:
    """Key material wrapped as ImportKeyMaterial takes it (RSAES_OAEP_SHA_256, or _SHA_1)."""
    digest: hashes.HashAlgorithm = hashes.SHA1() if sha1 else hashes.SHA256()
    public = load_der_public_key(public_der)
    assert isinstance(public, RSAPublicKey)
    return public.encrypt(material, padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None))
