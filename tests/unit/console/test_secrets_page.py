"""The Secrets page over HTTP: the list with its filters and paging, Create Secret, a secret's page
with its versions, a value revealed only by a POST (recorded as GetSecretValue, never cached, in no
log or audit line), Put Value, Rotate now and the rotation policy, deletion and restoring, and the
refusals of each, through the same services and authorizer as the API."""

from __future__ import annotations

import html
import json
import logging
import re
from typing import Any

import pytest
from starlette.types import ASGIApp

from openkms.console.app import ConsoleConfig, create_console
from openkms.domain import secrets as s
from openkms.domain.listing import Page
from openkms.domain.ram.identities import PolicyType
from openkms.domain.secrets import SecretType
from openkms.service.keys import CreateKeyRequest
from openkms.service.ram_users import UserFields
from openkms.service.secrets import CreateSecretRequest
from tests.audit_support import events
from tests.console_http import ConsoleClient
from tests.inproc import Inproc

SECRETS = "/cn-hangzhou/secrets"
VALUE = "db-password-Zq81!"
NEW_VALUE = "second-password-Hx27?"
ROWS = re.compile(r'<tr data-version="([^"]+)">(.*?)</tr>', re.S)


@pytest.fixture
def app(rt: Inproc) -> ASGIApp:
    return create_console(rt.runtime.services, ConsoleConfig(rt.runtime.console_key), offload=False)


@pytest.fixture
def client(rt: Inproc, app: ASGIApp) -> ConsoleClient:
    client = ConsoleClient(app)
    assert client.log_on(rt.access_key_id, rt.secret).status_code == 303
    return client


def _trail(rt: Inproc, **match: str) -> list[dict[str, Any]]:
    found = events(rt.runtime.settings.data_dir / "audit")
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def _make(rt: Inproc, name: str, value: str = VALUE, **fields: Any) -> None:
    rt.runtime.services.secrets.create_secret(rt.caller, CreateSecretRequest(name, "v1", value, **fields))


def _post(client: ConsoleClient, page: str, action: str, **form: str) -> Any:
    return client.post(f"{page}/{action}", {"csrf_token": client.csrf(page), **form})


def _error(body: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error"[^>]*>([^<]*)</p>', body)
    assert found is not None, field
    return html.unescape(found.group(1))


def _stages(body: str) -> dict[str, list[str]]:
    """Each version row's stages, by version id."""
    return {vid: re.findall(r'<span class="badge stage">([^<]+)</span>', row) for vid, row in ROWS.findall(body)}


def _names(body: str) -> list[str]:
    start = body.index('id="secrets-table"')
    table = body[start : body.index("</table>", start)]
    return re.findall(r'<a class="mono" href="[^"]+">([^<]+)</a>', table)


# --- the list ---------------------------------------------------------------------------------


def test_the_list_filters_by_name_type_and_state_and_pages(rt: Inproc, client: ConsoleClient) -> None:
    for n in range(11):
        _make(rt, f"app/db-{n:02}")
    _make(rt, "cache", secret_type=SecretType.REDIS, extended_config='{"Host": "redis"}')
    rt.runtime.services.secrets.delete_secret(rt.caller, "app/db-03", False, 7)

    first = client.get(SECRETS)
    assert first.status_code == 200
    assert len(_names(first.text)) == 10
    assert "12 secrets" in first.text
    assert "Page 1 of 2" in first.text
    assert len(_names(client.get(f"{SECRETS}?page=2").text)) == 2
    assert len(_names(client.get(f"{SECRETS}?page=9").text)) == 2  # past the end: the last page

    assert _names(client.get(f"{SECRETS}?q=DB-0").text) == [f"app/db-{n:02}" for n in range(10)]
    assert _names(client.get(f"{SECRETS}?type=Redis").text) == ["cache"]
    assert _names(client.get(f"{SECRETS}?state=pending").text) == ["app/db-03"]
    active = client.get(f"{SECRETS}?state=active&q=app").text
    assert "app/db-03" not in _names(active)
    assert len(_names(active)) == 10

    listed = _trail(rt, eventName="ListSecrets")[-1]
    assert (listed["eventType"], listed["eventRW"], listed["errorCode"]) == ("ConsoleOperation", "Read", "")


# --- create -----------------------------------------------------------------------------------


def test_create_secret_under_the_service_key_or_a_chosen_key(
    rt: Inproc, client: ConsoleClient, caplog: pytest.LogCaptureFixture
) -> None:
    services = rt.runtime.services
    key = services.keys.create_key(rt.caller, CreateKeyRequest(alias="alias/secrets"))
    disabled = services.keys.create_key(rt.caller, CreateKeyRequest())
    services.keys.disable_key(rt.caller, disabled.id)
    signing = services.keys.create_key(rt.caller, CreateKeyRequest(spec="RSA_2048", usage=None))

    page = client.get(SECRETS).text
    assert f'<option value="{key.id}">{key.id} · alias/secrets</option>' in page
    assert disabled.id not in page
    assert signing.id not in page
    assert '<option value="" selected>Service-managed key (default)</option>' in page

    caplog.set_level(logging.DEBUG)
    token = client.csrf(SECRETS)
    form = {"csrf_token": token, "secret_name": "app/db", "secret_data": VALUE, "data_type": "text",
            "encryption_key": "", "description": "The database", "tag_key": "team", "tag_value": "payroll"}  # fmt: skip
    made = client.post(SECRETS, form)
    assert made.status_code == 303
    assert made.headers["location"] == "/cn-hangzhou/secrets/app/db?done=created"
    secret = services.secrets.describe_secret(rt.caller, "app/db")
    assert secret.service_key
    assert secret.description == "The database"
    assert [(t.key, t.value) for t in secret.tags] == [("team", "payroll")]
    assert services.secrets.get_secret_value(rt.caller, "app/db").data == VALUE

    chosen = client.post(SECRETS, {**form, "secret_name": "app/api", "encryption_key": key.id, "version_id": "first"})
    assert chosen.status_code == 303
    secret = services.secrets.describe_secret(rt.caller, "app/api")
    assert (secret.encryption_key_id, secret.service_key) == (key.id, False)
    assert services.secrets.get_secret_value(rt.caller, "app/api").version.version_id == "first"

    created = _trail(rt, eventName="CreateSecret")[-1]
    assert (created["eventType"], created["errorCode"]) == ("ConsoleOperation", "")
    assert created["referencedResources"]["ACS::KMS::Secret"] == ["app/api"]
    assert VALUE not in json.dumps(_trail(rt))
    assert VALUE not in caplog.text


@pytest.mark.parametrize(
    ("change", "field", "message", "status", "code"),
    [
        ({"secret_name": "acs/reserved"}, "secret_name",
         "1 to 192 letters, digits and _ / + = . @ -, not starting with acs/.", 400, "InvalidParameter"),
        ({"secret_name": "taken"}, "secret_name",
         "The secret already exists (or waits for its purge) in this region.", 409, "SecretAlreadyExists"),
        ({"data_type": "binary"}, "secret_data", "Binary data is base64 text.", 400, "InvalidParameter"),
        ({"secret_data": ""}, "secret_data", 'The parameter "SecretData" is needed but not provided.', 400,
         "MissingParameter"),
        ({"secret_data": "x" * (s.MAX_DATA_BYTES + 1)}, "secret_data", "At most 30720 bytes.", 400,
         "InvalidParameter"),
        ({"data_type": "json"}, "data_type", "Valid values: text, binary.", 400, "InvalidParameter"),
        ({"version_id": "no spaces"}, "version_id", "1 to 64 letters, digits and _ . -.", 400, "InvalidParameter"),
        ({"encryption_key": "no-such-key"}, "encryption_key", "The specified Key is not found.", 404, "KeyNotFound"),
    ],
)  # fmt: skip
def test_a_refused_create_says_why_next_to_its_field_and_never_echoes_the_value(
    rt: Inproc, client: ConsoleClient, change: dict[str, str], field: str, message: str, status: int, code: str
) -> None:
    _make(rt, "taken")
    form = {"csrf_token": client.csrf(SECRETS), "secret_name": "app/db", "secret_data": VALUE, "data_type": "text",
            "description": "kept", **change}  # fmt: skip
    refused = client.post(SECRETS, form)
    assert refused.status_code == status
    assert _error(refused.text, field) == message
    assert 'id="description"' in refused.text
    assert ">kept</textarea>" in refused.text
    assert VALUE not in refused.text
    assert "x" * 100 not in refused.text
    assert rt.runtime.services.secrets.list_secrets(rt.caller, Page(1, 100))[1] == 1
    assert _trail(rt, eventName="CreateSecret")[-1]["errorCode"] == code  # the console's events name the error


def test_a_disabled_key_posted_anyway_is_refused_next_to_encryption_key(rt: Inproc, client: ConsoleClient) -> None:
    keys = rt.runtime.services.keys
    key = keys.create_key(rt.caller, CreateKeyRequest())
    keys.disable_key(rt.caller, key.id)
    form = {"csrf_token": client.csrf(SECRETS), "secret_name": "app/db", "secret_data": VALUE, "encryption_key": key.id}
    refused = client.post(SECRETS, form)
    assert refused.status_code == 409
    assert _error(refused.text, "encryption_key") == "The request was rejected because the key state is Disabled."


# --- a secret's page: reveal, put, versions -----------------------------------------------------


def test_a_value_is_revealed_only_by_a_post_which_is_audited_and_never_cached(
    rt: Inproc, client: ConsoleClient, caplog: pytest.LogCaptureFixture
) -> None:
    _make(rt, "app/db")
    page = f"{SECRETS}/app/db"
    shown = client.get(page)
    assert shown.status_code == 200
    assert VALUE not in shown.text
    assert _stages(shown.text) == {"v1": ["ACSCurrent"]}
    assert _trail(rt, eventName="DescribeSecret")[-1]["eventType"] == "ConsoleOperation"

    caplog.set_level(logging.DEBUG)
    revealed = _post(client, page, "reveal", version_id="v1")
    assert revealed.status_code == 200
    assert f'<pre class="secret-value" id="revealed-value">{html.escape(VALUE)}</pre>' in revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    assert 'value="" aria-describedby="put-version-hint"' in revealed.text  # the posted version id stays in its form
    event = _trail(rt, eventName="GetSecretValue")[-1]
    assert (event["eventType"], event["eventRW"], event["errorCode"]) == ("ConsoleOperation", "Read", "")
    assert event["referencedResources"]["ACS::KMS::Secret"] == ["app/db"]
    assert event["userIdentity"]["accessKeyId"] == rt.access_key_id
    assert VALUE not in json.dumps(_trail(rt))
    assert VALUE not in caplog.text
    assert VALUE not in client.get(page).text  # the next page has it no more

    # Without the session's CSRF token: refused before anything is read.
    count = len(_trail(rt, eventName="GetSecretValue"))
    forged = client.post(f"{page}/reveal", {"csrf_token": "forged", "version_id": "v1"})
    assert forged.status_code == 403
    assert VALUE not in forged.text
    assert len(_trail(rt, eventName="GetSecretValue")) == count


def test_put_value_moves_the_stages_and_deprecated_versions_show_on_request(rt: Inproc, client: ConsoleClient) -> None:
    _make(rt, "app/db")
    page = f"{SECRETS}/app/db"
    put = _post(client, page, "put", secret_data=NEW_VALUE, data_type="text", version_id="v2")
    assert put.status_code == 303
    assert put.headers["location"] == f"{page}?done=put"
    shown = client.get(put.headers["location"]).text
    assert _stages(shown) == {"v1": ["ACSPrevious"], "v2": ["ACSCurrent"]}
    assert "The new value was stored." in shown
    assert NEW_VALUE not in shown
    assert rt.runtime.services.secrets.get_secret_value(rt.caller, "app/db").data == NEW_VALUE
    assert _trail(rt, eventName="PutSecretValue")[-1]["eventRW"] == "Write"

    # A custom stage, then a third ACSCurrent: v1 has no stage left and is deprecated.
    assert (
        _post(client, page, "put", secret_data="c2VlZA==", data_type="binary", stages="test, canary").status_code == 303
    )
    assert _post(client, page, "put", secret_data="third", version_id="v4").status_code == 303
    stages = _stages(client.get(page).text)
    assert stages["v4"] == ["ACSCurrent"]
    assert stages["v2"] == ["ACSPrevious"]
    assert "v1" not in stages
    assert len(stages) == 3
    everything = client.get(f"{page}?deprecated=1").text
    assert _stages(everything)["v1"] == []
    assert "Hide deprecated versions" in everything


@pytest.mark.parametrize(
    ("form", "message", "status"),
    [
        ({"secret_data": NEW_VALUE, "version_id": "v1"}, "The VersionId already exists with different data.", 409),
        ({"secret_data": NEW_VALUE, "stages": "bad stage!"}, "1 to 64 letters, digits and _ . -.", 400),
        ({"secret_data": "%%%", "data_type": "binary"}, "Binary data is base64 text.", 400),
    ],
)  # fmt: skip
def test_a_refused_put_says_why_and_never_echoes_the_value(
    rt: Inproc, client: ConsoleClient, form: dict[str, str], message: str, status: int
) -> None:
    _make(rt, "app/db")
    page = f"{SECRETS}/app/db"
    refused = _post(client, page, "put", **form)
    assert refused.status_code == status
    assert _error(refused.text, "put") == message
    assert NEW_VALUE not in refused.text
    assert "%%%" not in refused.text
    assert _stages(refused.text) == {"v1": ["ACSCurrent"]}


# --- rotation ---------------------------------------------------------------------------------


def test_rotate_now_is_refused_as_the_api_refuses_it_for_a_type_without_a_rotator(
    rt: Inproc, client: ConsoleClient
) -> None:
    _make(rt, "app/db")
    _make(rt, "orders", secret_type=SecretType.RDS, extended_config='{"DBInstanceId": "pg-1"}')
    for name, message in [
        ("app/db", "A Generic secret is rotated with PutSecretValue."),
        ("orders", "openkms has no rotator for Rds secrets."),
    ]:
        refused = _post(client, f"{SECRETS}/{name}", "rotate")
        assert refused.status_code == 400
        assert _error(refused.text, "rotate") == message
        assert _trail(rt, eventName="RotateSecret")[-1]["errorCode"] == "UnsupportedOperation"
        api = rt.request("RotateSecret", {"SecretName": name, "VersionId": "r1"})
        body = json.loads(api.body)
        assert (api.status, body["Code"]) == (400, "Rejected.UnsupportedOperation")
        assert body["Message"] == f"Unsupported operation. {message}"  # the console shows the reason alone


def test_the_rotation_policy_of_a_managed_secret(rt: Inproc, client: ConsoleClient) -> None:
    _make(rt, "orders", secret_type=SecretType.RDS, extended_config='{"DBInstanceId": "pg-1"}')
    _make(rt, "app/db")
    page = f"{SECRETS}/orders"
    assert _post(client, page, "rotation", enabled="yes", interval="7d").status_code == 303
    secret = rt.runtime.services.secrets.describe_secret(rt.caller, "orders")
    assert (secret.rotation_enabled, secret.rotation_interval) == (True, 7 * s.DAY)
    assert secret.next_rotation_at == secret.created_at + 7 * s.DAY
    shown = client.get(page).text
    assert '<dd id="rotation-status">Enabled</dd>' in shown
    assert '<dd id="rotation-interval">7 days</dd>' in shown
    assert _trail(rt, eventName="UpdateSecretRotationPolicy")[-1]["errorCode"] == ""

    assert _post(client, page, "rotation").status_code == 303  # unchecked: off, the interval kept
    secret = rt.runtime.services.secrets.describe_secret(rt.caller, "orders")
    assert (secret.rotation_enabled, secret.rotation_interval) == (False, 7 * s.DAY)

    for interval, message in [
        ("5h", "From 6 hours to 8760 hours (365 days)."),
        ("7 days", "Use <number><d|h|m|s>, for example 7d."),
    ]:
        refused = _post(client, page, "rotation", enabled="yes", interval=interval)
        assert (refused.status_code, _error(refused.text, "rotation")) == (400, message)
    generic = _post(client, f"{SECRETS}/app/db", "rotation", enabled="yes", interval="7d")
    assert (generic.status_code, _error(generic.text, "rotation")) == (
        400, "A Generic secret is rotated with PutSecretValue."
    )  # fmt: skip


# --- deletion ---------------------------------------------------------------------------------


def test_delete_with_a_recovery_window_then_restore(rt: Inproc, client: ConsoleClient) -> None:
    _make(rt, "app/db")
    page = f"{SECRETS}/app/db"
    for days, message in [("6", "From 7 to 30 days."), ("31", "From 7 to 30 days."),
                          ("soon", "Enter the recovery window as a whole number of days from 7 to 30.")]:  # fmt: skip
        refused = _post(client, page, "delete", window_days=days)
        assert refused.status_code == 400
        assert _error(refused.text, "delete") == message

    now = int(rt.clock.now())
    assert _post(client, page, "delete", window_days="7").status_code == 303
    assert rt.runtime.services.secrets.describe_secret(rt.caller, "app/db").delete_at == now + 7 * s.DAY
    shown = client.get(page).text
    assert "Pending deletion" in shown
    assert "Restore" in shown
    assert _names(client.get(f"{SECRETS}?state=pending").text) == ["app/db"]

    refused = _post(client, page, "reveal", version_id="v1")
    assert refused.status_code == 409
    assert _error(refused.text, "reveal") == "The request was rejected because the secret is scheduled for deletion."
    assert VALUE not in refused.text

    assert _post(client, page, "restore").status_code == 303
    assert rt.runtime.services.secrets.describe_secret(rt.caller, "app/db").delete_at is None
    assert _trail(rt, eventName="RestoreSecret")[-1]["eventRW"] == "Write"
    again = _post(client, page, "restore")
    assert (again.status_code, _error(again.text, "restore")) == (
        409,
        "Keystate modified failed. The secret is not scheduled for deletion.",
    )


def test_force_delete_removes_the_secret_at_once(rt: Inproc, client: ConsoleClient) -> None:
    _make(rt, "app/db")
    page = f"{SECRETS}/app/db"
    gone = _post(client, page, "delete", force="yes")
    assert gone.status_code == 303
    assert gone.headers["location"] == f"{SECRETS}?done=deleted"
    assert client.get(page).status_code == 404
    assert _names(client.get(SECRETS).text) == []
    _make(rt, "app/db")  # the name is free again


def test_an_unknown_change_and_an_unknown_secret(rt: Inproc, client: ConsoleClient) -> None:
    _make(rt, "app/db")
    assert _post(client, f"{SECRETS}/app/db", "explode").status_code == 404
    missing = client.get(f"{SECRETS}/nothing-here")
    assert missing.status_code == 404
    assert "The specified secret is not found." in missing.text


# --- access ---------------------------------------------------------------------------------------

READ_ONLY = """{"Version": "1", "Statement": [{"Effect": "Allow",
  "Action": ["kms:ListSecrets", "kms:DescribeSecret", "kms:ListSecretVersionIds"%s],
  "Resource": ["acs:kms:*:*:secret", "acs:kms:*:*:secret/*"]}]}"""


def _user(rt: Inproc, app: ASGIApp, name: str, extra: str = "") -> ConsoleClient:
    services = rt.runtime.services
    services.ram_users.create_user(rt.caller, name, UserFields())
    services.ram_policies.create_policy(rt.caller, f"{name}-policy", READ_ONLY % extra)
    services.ram_policies.attach(rt.caller, PolicyType.CUSTOM, f"{name}-policy", name)
    issued = services.ram_users.create_access_key(rt.caller, name)
    client = ConsoleClient(app)
    assert client.log_on(issued.access_key.id, issued.secret).status_code == 303
    return client


def test_a_read_only_user_sees_the_secret_and_is_refused_every_change(rt: Inproc, app: ASGIApp) -> None:
    _make(rt, "app/db")
    viewer = _user(rt, app, "viewer")
    page = f"{SECRETS}/app/db"
    assert _names(viewer.get(SECRETS).text) == ["app/db"]
    assert "No policy allows you kms:CreateSecret here." in viewer.get(SECRETS).text
    shown = viewer.get(page).text
    for act in ("GetSecretValue", "DeleteSecret", "RotateSecret", "UpdateSecretRotationPolicy"):
        assert f'data-denied="{act}"' in shown
    assert "No policy allows you kms:PutSecretValue here." in shown

    arn = f"acs:kms:cn-hangzhou:{rt.account_uid}:secret/app/db"
    for act, api_action, form in [
        ("reveal", "GetSecretValue", {"version_id": "v1"}),
        ("put", "PutSecretValue", {"secret_data": NEW_VALUE}),
        ("delete", "DeleteSecret", {"window_days": "7"}),
    ]:
        refused = _post(viewer, page, act, **form)
        assert refused.status_code == 403
        assert _error(refused.text, act) == (
            f"You are not allowed to do this: no policy allows kms:{api_action} on {arn}."
            " Ask your administrator for a policy that allows it."
        )
        event = _trail(rt, eventName=api_action)[-1]
        assert (event["errorCode"], event["userIdentity"]["userName"]) == ("AccessDenied", "viewer")
    created = viewer.post(SECRETS, {"csrf_token": viewer.csrf(SECRETS), "secret_name": "mine", "secret_data": VALUE})
    assert created.status_code == 403
    assert "no policy allows kms:CreateSecret" in _error(created.text, "create")
    assert rt.runtime.services.secrets.get_secret_value(rt.caller, "app/db").data == VALUE


def test_reading_a_value_also_needs_decrypt_with_the_secrets_key(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    _make(rt, "app/db", key_ref=key.id)
    reader = _user(rt, app, "reader", ', "kms:GetSecretValue"')
    refused = _post(reader, f"{SECRETS}/app/db", "reveal", version_id="v1")
    assert refused.status_code == 403
    assert _error(refused.text, "reveal") == (
        f"You are not allowed to do this: no policy allows kms:Decrypt on {key.arn()}."
        " Ask your administrator for a policy that allows it."
    )
    assert VALUE not in refused.text
    assert _trail(rt, eventName="GetSecretValue")[-1]["errorCode"] == "AccessDenied"


def test_switching_region_stays_on_the_secrets_page(rt: Inproc, client: ConsoleClient) -> None:
    _make(rt, "app/db")
    switched = client.get("/switch-region?region=cn-shanghai&to=secrets")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/cn-shanghai/secrets"
    assert _names(client.get("/cn-shanghai/secrets").text) == []  # a secret belongs to its region
