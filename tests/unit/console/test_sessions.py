"""The console's sessions on real runtimes built by the composition root: cookies signed with the
derived key, rows in the store that every worker sees, CSRF tokens bound to their session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms import bootstrap
from openkms.console.auth import SESSION_SECONDS, Ended, SessionManager, SignedIn
from openkms.domain.identity import Caller
from openkms.domain.logon import digest
from openkms.service.ram_users import UserFields
from openkms.settings import Settings
from openkms.system import ManualClock


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Settings, bootstrap.Runtime]]:
    settings = Settings.load(env={}, data_dir=tmp_path / "data", rsa_pool_size=0)
    bootstrap.prepare(settings)
    runtime = bootstrap.build(settings)
    yield settings, runtime
    runtime.close()


def manager(runtime: bootstrap.Runtime, clock: ManualClock) -> SessionManager:
    services = runtime.services
    return SessionManager(runtime.console_key, services.identity, services.console_sessions, clock)


def test_workers_agree_on_sessions_and_on_their_end(node: tuple[Settings, bootstrap.Runtime], tmp_path: Path) -> None:
    settings, first = node
    second = bootstrap.build(settings)  # another worker process on the same node
    try:
        root_key, _ = bootstrap.load_root_key(settings)
        assert first.console_key == second.console_key
        assert first.console_key != root_key
        assert "console_key" not in repr(first)
        issued = first.services.identity.create_access_key()
        clock = ManualClock()
        a, b = manager(first, clock), manager(second, clock)
        session = a.log_on(issued.access_key.id, issued.secret).session
        assert session is not None
        decoded = b.decode(a.encode(session))
        assert decoded == session
        assert b.csrf_ok(decoded, a.csrf_token(session))
        assert b.resume(decoded) == SignedIn(issued.access_key.id, issued.access_key.account_uid, "")
        a.log_off(session)  # on one worker: over on every other
        assert b.resume(decoded) is Ended.CLOSED
    finally:
        second.close()

    other_settings = Settings.load(env={}, data_dir=tmp_path / "other", rsa_pool_size=0)
    bootstrap.prepare(other_settings)
    other = bootstrap.build(other_settings)  # another root key: another installation
    try:
        assert manager(other, ManualClock()).decode(a.encode(session)) is None
    finally:
        other.close()


def test_the_store_keeps_only_the_hash_of_the_session_id(node: tuple[Settings, bootstrap.Runtime]) -> None:
    _, runtime = node
    issued = runtime.services.identity.create_access_key()
    sessions = manager(runtime, ManualClock(1_000_000))
    session = sessions.log_on(issued.access_key.id, issued.secret).session
    assert session is not None
    assert session.signed_in
    with runtime.store.read() as uow:
        row = uow.console_sessions.get(digest(session.sid))
        assert uow.console_sessions.get(session.sid) is None
    assert row is not None
    assert session.sid not in repr(row)
    assert (row.access_key_id, row.expires_at - row.created_at) == (issued.access_key.id, SESSION_SECONDS)
    assert issued.secret not in repr(row)
    assert issued.secret not in sessions.encode(session)
    assert issued.access_key.id not in sessions.encode(session)  # the cookie carries the session id only


def test_expiry_rekeying_revocation_and_csrf_binding(node: tuple[Settings, bootstrap.Runtime]) -> None:
    _, runtime = node
    identity = runtime.services.identity
    issued = identity.create_access_key()
    clock = ManualClock(1_000_000)
    sessions = manager(runtime, clock)
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
    assert not sessions.csrf_ok(sessions.anonymous(), sessions.csrf_token(session))

    clock.advance(SESSION_SECONDS - 1)
    assert isinstance(sessions.resume(session), SignedIn)
    clock.advance(1)
    assert sessions.resume(session) is Ended.EXPIRED

    fresh = sessions.log_on(issued.access_key.id, issued.secret).session
    disabled = sessions.log_on(issued.access_key.id, issued.secret).session
    assert fresh is not None
    assert disabled is not None
    # The administrator re-keys the pair: sessions made with the old secret end.
    identity.bootstrap_admin(issued.access_key.id, "a-new-secret-of-thirty-chars-xx")
    assert sessions.resume(fresh) is Ended.REKEYED
    # Ended for good: putting the old secret back does not bring the session back.
    identity.bootstrap_admin(issued.access_key.id, issued.secret)
    assert sessions.resume(fresh) is Ended.CLOSED
    # Disabling ends it too, and enabling again does not undo that.
    assert isinstance(sessions.resume(disabled), SignedIn)
    identity.set_enabled(issued.access_key.id, False)
    assert sessions.resume(disabled) is Ended.DISABLED
    identity.set_enabled(issued.access_key.id, True)
    assert sessions.resume(disabled) is Ended.CLOSED
    # A cookie signed with another key, or altered, is no session at all.
    value = sessions.encode(fresh)
    assert sessions.decode(value[:-2] + "AA") is None
    assert sessions.decode(value.replace(".", "..")) is None
    assert sessions.decode("") is None
    assert sessions.resume(sessions.anonymous()) is Ended.CLOSED  # an anonymous cookie signs no one in


def test_a_ram_users_session_follows_its_access_key(node: tuple[Settings, bootstrap.Runtime]) -> None:
    _, runtime = node
    services = runtime.services
    admin = services.identity.create_access_key()
    root = Caller(admin.access_key.account_uid, "cn-hangzhou", admin.access_key.id)
    services.ram_users.create_user(root, "alice", UserFields())
    issued = services.ram_users.create_access_key(root, "alice")
    sessions = manager(runtime, ManualClock(1_000_000))
    session = sessions.log_on(issued.access_key.id, issued.secret).session
    assert session is not None
    assert sessions.resume(session) == SignedIn(issued.access_key.id, root.account_uid, "alice")
    services.ram_users.update_user(root, "alice", "alice2", UserFields())  # renamed: the key follows
    assert sessions.resume(session) == SignedIn(issued.access_key.id, root.account_uid, "alice2")
    services.ram_users.update_access_key(root, issued.access_key.id, False, "alice2")
    assert sessions.resume(session) is Ended.DISABLED
