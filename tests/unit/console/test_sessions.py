"""The console's session cookies and CSRF tokens, on real runtimes built by the composition root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms import bootstrap
from openkms.console.auth import SESSION_SECONDS, Ended, SessionManager
from openkms.settings import Settings
from openkms.system import ManualClock


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Settings, bootstrap.Runtime]]:
    settings = Settings.load(env={}, data_dir=tmp_path / "data", rsa_pool_size=0)
    bootstrap.prepare(settings)
    runtime = bootstrap.build(settings)
    yield settings, runtime
    runtime.close()


def test_workers_with_the_same_root_key_accept_each_others_sessions(
    node: tuple[Settings, bootstrap.Runtime], tmp_path: Path
) -> None:
    settings, first = node
    second = bootstrap.build(settings)  # another worker process on the same node
    try:
        root_key, _ = bootstrap.load_root_key(settings)
        assert first.console_key == second.console_key
        assert first.console_key != root_key
        assert "console_key" not in repr(first)
        issued = first.services.identity.create_access_key()
        clock = ManualClock()
        a = SessionManager(first.console_key, first.services.identity, clock)
        b = SessionManager(second.console_key, second.services.identity, clock)
        session = a.log_on(issued.access_key.id, issued.secret).session
        assert session is not None
        decoded = b.decode(a.encode(session))
        assert decoded == session
        assert b.csrf_ok(decoded, a.csrf_token(session))
        assert b.still_valid(decoded) is None
    finally:
        second.close()

    other_settings = Settings.load(env={}, data_dir=tmp_path / "other", rsa_pool_size=0)
    bootstrap.prepare(other_settings)
    other = bootstrap.build(other_settings)  # another root key: another installation
    try:
        foreign = SessionManager(other.console_key, other.services.identity, ManualClock())
        assert foreign.decode(a.encode(session)) is None
    finally:
        other.close()


def test_expiry_rekeying_and_csrf_binding(node: tuple[Settings, bootstrap.Runtime]) -> None:
    _, runtime = node
    identity = runtime.services.identity
    issued = identity.create_access_key()
    clock = ManualClock(1_000_000)
    sessions = SessionManager(runtime.console_key, identity, clock)
    session = sessions.log_on(issued.access_key.id, issued.secret).session
    assert session is not None
    assert session.expires_at - session.issued_at == SESSION_SECONDS
    assert sessions.log_on(issued.access_key.id, issued.secret + "!").session is None
    assert sessions.log_on("LTAIunknown", issued.secret).session is None

    other = sessions.log_on(issued.access_key.id, issued.secret).session
    assert other is not None
    assert other.sid != session.sid
    assert not sessions.csrf_ok(other, sessions.csrf_token(session))
    assert not sessions.csrf_ok(session, "")

    clock.advance(SESSION_SECONDS - 1)
    assert sessions.still_valid(session) is None
    clock.advance(1)
    assert sessions.still_valid(session) is Ended.EXPIRED

    fresh = sessions.log_on(issued.access_key.id, issued.secret).session
    assert fresh is not None
    # The administrator re-keys the pair: sessions made with the old secret end.
    identity.bootstrap_admin(issued.access_key.id, "a-new-secret-of-thirty-chars-xx")
    assert sessions.still_valid(fresh) is Ended.REKEYED
    # A cookie signed with another key, or altered, is no session at all.
    value = sessions.encode(fresh)
    assert sessions.decode(value[:-2] + "AA") is None
    assert sessions.decode(value.replace(".", "..")) is None
    assert sessions.decode("") is None
