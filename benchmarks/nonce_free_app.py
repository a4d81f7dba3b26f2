"""The baseline of ``nonce_cost.py``: openkms as ``openkms serve`` builds it in each worker, except
that every signature nonce is accepted without being recorded. Never a way to run openkms: it
answers replays."""

from __future__ import annotations

from openkms import bootstrap
from openkms.asgi import OpenKmsApp
from openkms.settings import Settings


class _Unrecorded:
    def claim(self, nonce: str, now: float, signed_at: float | None = None) -> bool:
        return True


def create() -> OpenKmsApp:
    runtime = bootstrap.build(Settings.load())
    runtime.nonces = _Unrecorded()
    return OpenKmsApp(runtime)
