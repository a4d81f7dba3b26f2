"""Application access through the SDK (alibabacloud-kms20160120): network rules, KMS permission
policies, application access points and client keys, their refusals, and a client key's PKCS#12."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from alibabacloud_ram20150501 import models as ram_models
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from openkms.domain.app_access import KEY_USER, SECRET_USER
from openkms.domain.instances import DEFAULT_INSTANCE
from tests.e2e.clients import ApiError, Kms
from tests.e2e.test_ram_api import ram_client
from tests.servers import InProcessServer


@pytest.fixture
def kms(server: InProcessServer) -> Kms:
    ak, secret, _ = server.new_account()
    return Kms("new-v3", server.endpoint, ak, secret)


def _refused(kms: Kms, action: str, **params: str) -> tuple[int, str, str]:
    """(status, code, the server's Message as the SDK quotes it inside its own text)."""
    try:
        kms.call(action, **params)
    except ApiError as exc:
        return exc.status, exc.code, exc.message.split(", ", 1)[1].rsplit(" request id:", 1)[0]
    raise AssertionError(f"{action} succeeded")


def _provision(kms: Kms, sources: str = "10.0.0.0/8") -> str:
    kms.call("CreateNetworkRule", Name="office", Type="Private", SourcePrivateIp=sources, Description="the office")
    kms.call("CreatePolicy", Name="crypto", KmsInstance=DEFAULT_INSTANCE, Permissions=json.dumps([KEY_USER]),
             Resources=json.dumps(["key/*"]), AccessControlRules=json.dumps({"NetworkRules": ["office"]}))  # fmt: skip
    kms.call("CreateApplicationAccessPoint", Name="app", AuthenticationMethod="ClientKey",
             Policies=json.dumps(["crypto"]))  # fmt: skip
    return "app"


def test_rules_policies_and_access_points_are_created_described_listed_and_updated(kms: Kms) -> None:
    made = kms.call("CreateNetworkRule", Name="office", Type="Private", SourcePrivateIp="10.0.0.7, 192.168.0.0/16")
    assert made["SourcePrivateIp"] == '["10.0.0.7/32", "192.168.0.0/16"]'
    assert made["Arn"].endswith(":network/office")
    policy = kms.call("CreatePolicy", Name="crypto", KmsInstance=DEFAULT_INSTANCE,
                      Permissions=json.dumps([KEY_USER, SECRET_USER]), Resources=json.dumps(["key/*", "secret/*"]),
                      AccessControlRules=json.dumps({"NetworkRules": ["office"]}))  # fmt: skip
    assert (policy["Permissions"], policy["Resources"]) == ([KEY_USER, SECRET_USER], ["key/*", "secret/*"])
    assert json.loads(policy["AccessControlRules"]) == {"NetworkRules": ["office"]}
    point = kms.call("CreateApplicationAccessPoint", Name="app", AuthenticationMethod="ClientKey",
                     Policies=json.dumps(["crypto"]), Description="billing")  # fmt: skip
    assert (point["Name"], point["AuthenticationMethod"], json.loads(point["Policies"])) == (
        "app", "ClientKey", ["crypto"]
    )  # fmt: skip
    assert kms.call("DescribeApplicationAccessPoint", Name="app")["Description"] == "billing"
    assert kms.call("DescribePolicy", Name="crypto")["KmsInstance"] == DEFAULT_INSTANCE
    assert kms.call("DescribeNetworkRule", Name="office")["Type"] == "Private"
    listed = kms.call("ListApplicationAccessPoints")
    assert [p["Name"] for p in listed["ApplicationAccessPoints"]["ApplicationAccessPoint"]] == ["app"]
    assert [p["Name"] for p in kms.call("ListPolicies")["Policies"]["Policy"]] == ["crypto"]
    assert [r["Name"] for r in kms.call("ListNetworkRules")["NetworkRules"]["NetworkRule"]] == ["office"]
    kms.call("UpdateNetworkRule", Name="office", SourcePrivateIp="172.16.0.0/12")
    assert kms.call("DescribeNetworkRule", Name="office")["SourcePrivateIp"] == '["172.16.0.0/12"]'
    kms.call("UpdatePolicy", Name="crypto", Resources=json.dumps(["key/one"]))
    assert kms.call("DescribePolicy", Name="crypto")["Resources"] == ["key/one"]
    kms.call("UpdateApplicationAccessPoint", Name="app", Description="payments")
    assert kms.call("DescribeApplicationAccessPoint", Name="app")["Description"] == "payments"


def test_a_client_key_is_a_pkcs12_under_its_password_and_only_its_public_key_is_kept(
    kms: Kms, server: InProcessServer
) -> None:
    aap = _provision(kms)
    made = kms.call("CreateClientKey", AapName=aap, Password="s3cret-pass", NotBefore="2026-01-01T00:00:00Z",
                    NotAfter="2027-01-01T00:00:00Z")  # fmt: skip
    assert made["ClientKeyId"].startswith("KAAP.")
    assert len(made["ClientKeyId"]) == 41
    assert (made["KeyAlgorithm"], made["NotBefore"], made["NotAfter"]) == (
        "RSA_2048", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"
    )  # fmt: skip
    bundle = base64.b64decode(made["PrivateKeyData"])
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(bundle, b"wrong-password")
    private, _, _ = pkcs12.load_key_and_certificates(bundle, b"s3cret-pass")
    assert private is not None
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    got = kms.call("GetClientKey", ClientKeyId=made["ClientKeyId"])
    assert (got["AapName"], base64.b64decode(got["PublicKeyData"])) == (aap, public)
    assert "PrivateKeyData" not in got
    assert [k["ClientKeyId"] for k in kms.call("ListClientKeys", AapName=aap)["ClientKeys"]] == [made["ClientKeyId"]]
    secret = private.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for path in Path(server.data_dir).rglob("*"):
        if path.is_file():
            assert secret[-64:] not in path.read_bytes(), path
    kms.call("DeleteClientKey", ClientKeyId=made["ClientKeyId"])
    assert _refused(kms, "GetClientKey", ClientKeyId=made["ClientKeyId"]) == (
        404, "Forbidden.ResourceNotFound", "The specified client key is not found."
    )  # fmt: skip


def test_what_is_named_cannot_be_deleted_and_names_are_unique(kms: Kms) -> None:
    aap = _provision(kms)
    key_id = kms.call("CreateClientKey", AapName=aap, Password="s3cret-pass")["ClientKeyId"]
    in_use = (409, "Rejected.ResourceInUse")
    assert _refused(kms, "DeleteNetworkRule", Name="office")[:2] == in_use
    assert _refused(kms, "DeletePolicy", Name="crypto")[2] == (
        "The policy is in use by the application access point app."
    )
    assert _refused(kms, "DeleteApplicationAccessPoint", Name=aap)[2] == (
        "The application access point is in use by its client keys."
    )
    assert _refused(kms, "CreateNetworkRule", Name="office", Type="Private", SourcePrivateIp="10.1.0.0/16") == (
        409, "Rejected.ResourceExist", "The network rule already exists in this region."
    )  # fmt: skip
    kms.call("DeleteClientKey", ClientKeyId=key_id)
    kms.call("DeleteApplicationAccessPoint", Name=aap)
    kms.call("DeletePolicy", Name="crypto")
    kms.call("DeleteNetworkRule", Name="office")
    assert kms.call("ListNetworkRules")["TotalCount"] == 0


def test_bad_parameters_are_refused_with_their_name(kms: Kms) -> None:
    def invalid(action: str, **params: str) -> tuple[int, str]:
        return _refused(kms, action, **params)[:2]

    bad = (400, "InvalidParameter")
    assert invalid("CreateNetworkRule", Name="r", Type="Private", SourcePrivateIp="10.0.0.300") == bad
    assert invalid("CreateNetworkRule", Name="r", Type="Public", SourcePrivateIp="10.0.0.1") == bad
    assert invalid("CreatePolicy", Name="p", KmsInstance=DEFAULT_INSTANCE, Permissions='["Admin"]',
                   Resources='["key/*"]') == bad  # fmt: skip
    assert invalid("CreatePolicy", Name="p", KmsInstance=DEFAULT_INSTANCE, Permissions=json.dumps([KEY_USER]),
                   Resources='["key/a*"]') == bad  # fmt: skip
    assert _refused(kms, "CreatePolicy", Name="p", KmsInstance="kst-nope", Permissions=json.dumps([KEY_USER]),
                    Resources='["key/*"]')[:2] == (404, "Forbidden.ResourceNotFound")  # fmt: skip
    assert _refused(kms, "CreatePolicy", Name="p", KmsInstance=DEFAULT_INSTANCE, Permissions=json.dumps([KEY_USER]),
                    Resources='["key/*"]', AccessControlRules='{"NetworkRules":["nope"]}') == (
        404, "Forbidden.ResourceNotFound", "The specified network rule is not found."
    )  # fmt: skip
    assert invalid("CreateApplicationAccessPoint", Name="a", AuthenticationMethod="ClientKey", Policies="[]") == bad
    assert _refused(kms, "CreateApplicationAccessPoint", Name="a", AuthenticationMethod="ClientKey",
                    Policies='["nope"]')[:2] == (404, "Forbidden.ResourceNotFound")  # fmt: skip
    assert _refused(kms, "CreateClientKey", AapName="nope", Password="s3cret-pass")[:2] == (
        404, "Forbidden.ResourceNotFound"
    )  # fmt: skip
    aap = _provision(kms)
    assert invalid("CreateClientKey", AapName=aap, Password="short") == bad
    assert invalid("CreateClientKey", AapName=aap, Password="s3cret-pass", NotBefore="yesterday") == bad
    assert invalid("CreateClientKey", AapName=aap, Password="s3cret-pass", NotBefore="2027-01-01T00:00:00Z",
                   NotAfter="2026-01-01T00:00:00Z") == bad  # fmt: skip


def test_rams_create_policy_is_another_action_of_another_version(server: InProcessServer) -> None:
    """CreatePolicy under 2016-01-20 is KMS's (an application's permissions); RAM's (2015-05-01)
    still makes a RAM policy, and neither sees the other's."""
    ak, secret, _ = server.new_account()
    kms = Kms("new-v3", server.endpoint, ak, secret)
    _provision(kms)
    ram = ram_client(server, ak, secret)
    doc = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:List*", "Resource": "*"}]})
    ram.create_policy(ram_models.CreatePolicyRequest(policy_name="crypto", policy_document=doc))
    ram_names = [p.policy_name for p in ram.list_policies(ram_models.ListPoliciesRequest(policy_type="Custom")).body
                 .policies.policy]  # fmt: skip
    assert ram_names == ["crypto"]
    assert [p["Name"] for p in kms.call("ListPolicies")["Policies"]["Policy"]] == ["crypto"]
    assert kms.call("DescribePolicy", Name="crypto")["Permissions"] == [KEY_USER]
