"""The control API's doors: only where it is switched on, only for the administrator's own pair,
never with ``production``; each call audited; ``openkms serve --dev`` and the kit's process mode."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from openkms.cli.remote import ControlClient, RemoteError
from openkms.domain.identity import Caller
from openkms.service.ram_users import UserFields
from openkms.settings import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET, Settings, SettingsError
from openkms.testing import OpenKms
from tests.audit_support import events
from tests.e2e.clients import ApiError, Kms
from tests.servers import (
    InProcessServer,
    clean_env,
    free_port,
    inprocess_server,
    openkms_command,
    process_server,
    run_openkms,
    wait_healthy,
)


@pytest.fixture(scope="module")
def controlled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(tmp_path_factory.mktemp("controlled") / "data", control_api=True) as srv:
        yield srv


def test_the_control_api_is_absent_unless_switched_on(server: InProcessServer) -> None:
    resp = httpx.get(f"{server.base_url}/_openkms/clock")
    assert resp.status_code == 404
    admin = ControlClient(server.endpoint, server.access_key_id, server.secret)
    with pytest.raises(RemoteError) as err:
        admin.call("GET", "/clock")
    assert err.value.status == 404


@pytest.mark.parametrize("switch", [{"dev": True}, {"control_api": True}])
def test_production_refuses_dev_mode_and_the_control_api(switch: dict[str, bool]) -> None:
    with pytest.raises(SettingsError, match="refused with \\[server\\] production"):
        Settings.load(env={}, production=True, **switch)
    with pytest.raises(SettingsError, match="refused with \\[server\\] production"):
        Settings.load(env={"OPENKMS_TESTING_CONTROL_API": "true", "OPENKMS_SERVER_PRODUCTION": "true"})


def test_another_accounts_pair_is_refused(controlled: InProcessServer) -> None:
    other_id, other_secret, _ = controlled.new_account()
    other = ControlClient(controlled.endpoint, other_id, other_secret)
    with pytest.raises(RemoteError) as err:
        other.call("POST", "/clock/advance", {"Seconds": 60})
    assert (err.value.status, err.value.code) == (403, "Forbidden.NotAdministrator")
    assert controlled.clock.offset == 0.0  # nothing moved


def test_a_ram_users_pair_of_the_administrators_account_is_refused(controlled: InProcessServer) -> None:
    services = controlled.services
    caller = Caller(services.identity.account(), "cn-hangzhou")
    services.ram_users.create_user(caller, "ops", UserFields())
    issued = services.ram_users.create_access_key(caller, "ops")
    user = ControlClient(controlled.endpoint, issued.access_key.id, issued.secret)
    with pytest.raises(RemoteError) as err:
        user.call("GET", "/clock")
    assert (err.value.status, err.value.code) == (403, "Forbidden.NotAdministrator")


def test_every_control_call_is_an_audit_event(controlled: InProcessServer) -> None:
    admin = ControlClient(controlled.endpoint, controlled.access_key_id, controlled.secret)
    moved = admin.call("POST", "/clock/advance", {"Seconds": 3600})
    try:
        assert moved["OffsetSeconds"] == pytest.approx(3600)
        refused = ControlClient(controlled.endpoint, controlled.access_key_id, "wrong-secret-of-16")
        with pytest.raises(RemoteError):
            refused.call("POST", "/reset")
    finally:
        admin.call("POST", "/clock/set", {"Time": time.time()})
    trail = {e["requestId"]: e for e in events(controlled.data_dir / "audit")}
    event = trail[moved["RequestId"]]
    assert (event["eventName"], event["serviceName"], event["userIdentity"]["accessKeyId"]) == (
        "AdvanceClock", "OpenKmsControl", controlled.access_key_id,
    )  # fmt: skip
    assert any(e["eventName"] == "Reset" and e.get("errorCode") == "SignatureDoesNotMatch" for e in trail.values())
    # The trail keeps real time, moved clock or not: a chain's times never run backwards.
    when = datetime.strptime(event["eventTime"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    assert abs(when - time.time()) < 60


def test_serve_dev_prints_the_well_known_pair_and_throws_its_data_away(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "stdout.log"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            openkms_command("serve", "--dev", "--port", str(port)),
            stdout=sink,
            env=clean_env({"TMPDIR": str(tmp_path)}),
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc=proc)
        printed = out.read_text()
        assert DEV_ACCESS_KEY_ID in printed
        assert DEV_ACCESS_KEY_SECRET in printed
        assert "DEV MODE" in printed
        made = Path(re.search(r"data in (\S+)", printed).group(1))  # type: ignore[union-attr]
        assert made.parent == tmp_path
        assert made.exists()
        kms = Kms("new-v3", f"127.0.0.1:{port}", DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)
        for _ in range(25):  # past Alibaba's quota of 20 keys a region, which dev mode lifts
            kms.call("CreateKey")
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not made.exists()


def test_the_clock_and_the_faults_are_every_workers(tmp_path: Path) -> None:
    with process_server(tmp_path / "data", "--dev", "--no-tls", workers=2) as srv:
        admin = ControlClient(srv.endpoint, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)
        admin.call("POST", "/clock/advance", {"Seconds": 30 * 86_400})
        for _ in range(6):  # new connections: the supervisor's workers take turns accepting
            kms = Kms("new-v3", srv.endpoint, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)
            created = kms.call("CreateKey")["KeyMetadata"]["CreationDate"]
            when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
            assert when > time.time() + 29 * 86_400
        # Fault rules too, and their counts: three refusals in all, whichever worker answers.
        admin.call("POST", "/faults", {"Action": "ListKeys", "Preset": "unavailable", "Count": 3})
        codes = []
        for _ in range(5):
            kms = Kms("new-v3", srv.endpoint, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)
            try:
                kms.call("ListKeys")
                codes.append("-")
            except ApiError as exc:
                codes.append(exc.code)
        assert codes == ["ServiceUnavailable"] * 3 + ["-"] * 2


def test_serve_dev_is_refused_in_production(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text("[server]\nproduction = true\n")
    done = run_openkms("serve", "--dev", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    assert "refused with [server] production = true" in done.stderr


def test_the_kit_runs_a_server_process_too() -> None:
    with OpenKms(mode="process") as kit:
        kms = Kms("new-v3", kit.endpoint, kit.access_key_id, kit.access_key_secret)
        key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
        kms.call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
        assert kit.clock.advance(days=8)["Purged"] == [key_id]
