"""One audit event per request, for every action of every dispatch table, through the SDK's
generic call: its ActionTrail fields, the key it acted on, and refused requests (authorization,
signature, replay) as events too. An action added to a table without a sample, or reaching its
key without the resolver, fails here."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_kms20160120.client import Client
from alibabacloud_tea_openapi import utils_models as api
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from openkms.domain.actions import ACTIONS as ROWS
from openkms.domain.actions import RAM_ACTIONS as RAM_ROWS
from openkms.domain.actions import Target
from openkms.domain.identity import Caller
from openkms.domain.rotation import DAY
from openkms.protocol.dispatch import ACTIONS, ACTIONTRAIL_ACTIONS, RAM_ACTIONS
from openkms.service.keys import CreateKeyRequest
from openkms.service.ram_users import UserFields
from tests.action_samples import EXPECTED_ERRORS, Samples, ram_params
from tests.audit_support import events, one_event
from tests.e2e.signed import Signer
from tests.servers import InProcessServer, inprocess_server


@dataclass
class Account:
    server: InProcessServer
    root: Caller
    access_key_id: str
    secret: str
    client: Client
    samples: Samples

    @property
    def trail(self) -> Path:
        return self.server.data_dir / "audit"


def _client(server: InProcessServer, ak: str, secret: str) -> Client:
    return Client(Config(access_key_id=ak, access_key_secret=secret, endpoint=server.endpoint, protocol="http"))


@pytest.fixture(scope="module")
def account(server: InProcessServer) -> Account:
    ak, secret, uid = server.new_account()
    root = Caller(uid, "cn-hangzhou", ak)
    samples = Samples(server.services, root, server.clock)  # type: ignore[arg-type]
    return Account(server, root, ak, secret, _client(server, ak, secret), samples)


def call(client: Client, action: str, params: dict[str, str], version: str = "2016-01-20") -> dict[str, Any]:
    request = api.Params(
        action=action, version=version, protocol="HTTP", pathname="/", method="POST",
        auth_type="AK", style="RPC", req_body_type="formData", body_type="json",
    )  # fmt: skip
    try:
        response = client.call_api(request, api.OpenApiRequest(query=params), RuntimeOptions())
    except AlibabaCloudException as exc:
        return dict(exc.data or {})  # type: ignore[attr-defined]
    return dict(response["body"])


def _common(event: dict[str, Any], account: Account, action: str, writes: bool) -> None:
    assert event["eventName"] == action
    assert event["eventType"] == "ApiCall"
    assert event["eventRW"] == ("Write" if writes else "Read")
    assert event["acsRegion"] == "cn-hangzhou"
    assert event["sourceIpAddress"] == "127.0.0.1"
    assert event["userAgent"]
    assert event["userIdentity"] == {
        "type": "root-account",
        "principalId": account.root.account_uid,
        "accountId": account.root.account_uid,
        "accessKeyId": account.access_key_id,
        "userName": "",
    }
    assert event["recipientAccountId"] == account.root.account_uid
    assert event["eventId"]
    assert event["eventTime"].endswith("Z")


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_kms_action_is_one_event(account: Account, action: str) -> None:
    params = account.samples.params(action)
    body = call(account.client, action, params)
    event = one_event(account.trail, body["RequestId"])
    _common(event, account, action, ROWS[action].writes)
    assert (event["eventSource"], event["serviceName"]) == ("kms.aliyuncs.com", "Kms")
    assert event["apiVersion"] == "2016-01-20"
    assert event["errorCode"] == EXPECTED_ERRORS.get(action, "")
    keys = event["referencedResources"].get("ACS::KMS::Key", [])
    if ROWS[action].target is Target.KEY or action == "CreateKey":
        assert keys, event
    named = params.get("KeyId", "")
    if named.startswith("key-"):
        assert named in keys
    for name in ("KeyId", "Algorithm", "KeyVersionId", "AliasName"):
        if name in params:
            assert event["requestParameters"][name] == params[name]


@pytest.mark.parametrize("action", sorted(RAM_ACTIONS))
def test_every_ram_action_is_one_event(account: Account, action: str) -> None:
    body = call(account.client, action, ram_params(account.samples, action), version="2015-05-01")
    assert "Code" not in body, body
    event = one_event(account.trail, body["RequestId"])
    _common(event, account, action, RAM_ROWS[action].writes)
    assert (event["eventSource"], event["serviceName"]) == ("ram.aliyuncs.com", "Ram")
    assert event["apiVersion"] == "2015-05-01"
    assert event["errorCode"] == ""


@pytest.mark.parametrize("action", sorted(ACTIONTRAIL_ACTIONS))
def test_every_actiontrail_action_is_one_event(account: Account, action: str) -> None:
    body = call(account.client, action, account.samples.params(action), version="2020-07-06")
    assert "Code" not in body, body
    event = one_event(account.trail, body["RequestId"])
    _common(event, account, action, False)
    assert (event["eventSource"], event["serviceName"]) == ("actiontrail.aliyuncs.com", "Actiontrail")
    assert event["apiVersion"] == "2020-07-06"


def test_a_refused_action_is_an_event_of_the_caller_with_its_code(account: Account) -> None:
    services = account.server.services
    services.ram_users.create_user(account.root, "audited-nobody", UserFields())
    issued = services.ram_users.create_access_key(account.root, "audited-nobody")
    nobody = _client(account.server, issued.access_key.id, issued.secret)
    key_id = account.samples.params("DescribeKey")["KeyId"]
    body = call(nobody, "DescribeKey", {"KeyId": key_id})
    event = one_event(account.trail, body["RequestId"])
    assert (event["errorCode"], event["eventName"]) == ("Forbidden.RAM", "DescribeKey")
    assert event["errorMessage"]
    assert event["userIdentity"]["type"] == "ram-user"
    assert event["userIdentity"]["userName"] == "audited-nobody"
    assert event["userIdentity"]["accessKeyId"] == issued.access_key.id
    assert event["referencedResources"] == {"ACS::KMS::Key": [key_id]}


def test_a_bad_signature_is_an_event_naming_the_claimed_access_key(account: Account) -> None:
    signer = Signer(account.server.base_url, account.access_key_id, account.secret)
    resp = signer.v1("DescribeRegions", secret="not-the-secret").send()
    event = one_event(account.trail, resp.json()["RequestId"])
    assert event["errorCode"] == "SignatureDoesNotMatch"
    assert event["eventName"] == "DescribeRegions"
    assert event["userIdentity"] == {
        "type": "unknown", "principalId": "", "accountId": "", "accessKeyId": account.access_key_id, "userName": "",
    }  # fmt: skip


def test_a_replayed_request_is_an_event(account: Account) -> None:
    prepared = Signer(account.server.base_url, account.access_key_id, account.secret).v1("DescribeRegions")
    first = prepared.send().json()
    again = prepared.send().json()
    assert one_event(account.trail, first["RequestId"])["errorCode"] == ""
    assert one_event(account.trail, again["RequestId"])["errorCode"] == again["Code"] != ""


def test_an_unknown_action_is_an_event_without_the_callers_text(account: Account) -> None:
    body = call(account.client, "NoSuchAction<script>", {})
    event = one_event(account.trail, body["RequestId"])
    assert event["eventName"] == ""  # the caller's text stays in the message it was answered with
    assert event["errorCode"] == body["Code"] == "InvalidAction.NotFound"
    assert event["userIdentity"]["type"] == "unknown"  # the action is looked up before the signature
    assert event["userIdentity"]["accessKeyId"] == account.access_key_id


def test_a_ciphertext_is_in_the_trail_as_the_hash_openkms_audit_hash_prints(account: Account) -> None:
    encrypted = call(account.client, "Encrypt", {"KeyId": account.samples.params("DescribeKey")["KeyId"],
                                                  "Plaintext": base64.b64encode(b"hello").decode()})  # fmt: skip
    blob = encrypted["CiphertextBlob"]
    decrypted = call(account.client, "Decrypt", {"CiphertextBlob": blob})
    event = one_event(account.trail, decrypted["RequestId"])
    hashed = account.server.runtime.services.audit.keyed_hash(blob.encode())
    assert event["requestParameters"]["CiphertextBlob"] == hashed
    assert one_event(account.trail, encrypted["RequestId"])["responseElements"]["CiphertextBlob"] == hashed
    assert "Plaintext" not in event["responseElements"]
    assert event["referencedResources"]["ACS::KMS::Key"] == [encrypted["KeyId"]]


def test_hash_is_hmac_sha256_under_the_trail_key(account: Account) -> None:
    value = b"x"
    hashed = account.server.runtime.services.audit.keyed_hash(value)
    assert hashed.startswith("hmac-sha256:")
    assert len(hashed) == len("hmac-sha256:") + 64
    assert hashed != "hmac-sha256:" + hmac.new(b"", value, hashlib.sha256).hexdigest()


def test_background_changes_are_service_events(tmp_path: Path) -> None:
    # A server of its own: moving the clock days ahead rotates its trail's segment by age, and
    # the shared server's later searches would find their events in a segment dated days ahead.
    with inprocess_server(tmp_path / "data") as server:
        services = server.services
        ak, _, uid = server.new_account()
        root = Caller(uid, "cn-hangzhou", ak)
        rotating = services.keys.create_key(root, CreateKeyRequest(rotation_enabled=True, rotation_interval=7 * DAY))
        doomed = services.keys.create_key(root, CreateKeyRequest())
        services.keys.schedule_deletion(root, doomed.id, 7)
        server.clock.advance(8 * DAY)
        report = services.scheduler.run_once()
        assert rotating.id in report.rotated
        assert doomed.id in report.purged
        found = {(e["eventName"], e["referencedResources"]["ACS::KMS::Key"][0]): e
                 for e in events(tmp_path / "data" / "audit") if e["eventType"] == "AliyunServiceEvent"}  # fmt: skip
    rotated = found[("RotateKey", rotating.id)]
    assert rotated["userIdentity"]["type"] == "system"
    assert rotated["recipientAccountId"] == uid
    assert rotated["requestParameters"]["KeyVersionId"]
    assert rotated["eventRW"] == "Write"
    assert found[("DeleteKey", doomed.id)]["acsRegion"] == "cn-hangzhou"
