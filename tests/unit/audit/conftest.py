"""Shared pieces for the audit trail's tests: keys, events, and a trail on a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openkms.audit.keys import AuditKeys
from openkms.audit.trail import AuditConfig, AuditTrail, open_trail
from openkms.domain.audit import KMS_SOURCE, AuditEvent, EventRW, EventType, UserIdentity, event_time
from openkms.system import ManualClock

START = 1_800_000_000.0


def event(n: int, name: str = "Encrypt") -> AuditEvent:
    return AuditEvent(
        event_id=f"event-{n}",
        event_name=name,
        event_source=KMS_SOURCE,
        event_type=EventType.API_CALL,
        event_rw=EventRW.WRITE,
        event_time=event_time(START + n),
        acs_region="cn-hangzhou",
        request_id=f"request-{n}",
        api_version="2016-01-20",
        user_identity=UserIdentity("root-account", "1234", "1234", "LTAIexample"),
        source_ip_address="192.0.2.1",
        request_parameters={"KeyId": "key-1", "CiphertextBlob": "hmac-sha256:00"},
    )


@pytest.fixture(scope="session")
def keys() -> AuditKeys:
    return AuditKeys(Ed25519PrivateKey.generate(), b"h" * 32)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


TrailFactory = Callable[..., AuditTrail]


@pytest.fixture
def make_trail(tmp_path: Path, keys: AuditKeys, clock: ManualClock) -> Iterator[TrailFactory]:
    """Trails in ``tmp_path / "audit"`` (node "n": chains n-0, n-1 ...), closed at the end."""
    opened: list[AuditTrail] = []

    def make(**config: object) -> AuditTrail:
        settings: dict[str, object] = {"directory": tmp_path / "audit", "node": "n", "checkpoint_events": 10}
        settings.update(config)
        trail = open_trail(AuditConfig(**settings), keys, clock)  # type: ignore[arg-type]
        opened.append(trail)
        return trail

    yield make
    for trail in opened:
        trail.close()


def write(trail: AuditTrail, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        trail.record(event(n))
