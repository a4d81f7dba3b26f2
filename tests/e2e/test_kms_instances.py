"""KMS instances are openkms's key stores: ListKmsInstances, GetKmsInstance,
GetKmsInstanceQuotaInfos and GetDefaultKmsInstance through the SDK, answered from the
configuration (the default store and the test process's SoftHSM2 store, when it is there)."""

from __future__ import annotations

from openkms.domain.instances import DEFAULT_INSTANCE
from tests.e2e.clients import ApiError, Kms
from tests.servers import InProcessServer


def _client(server: InProcessServer) -> tuple[Kms, str]:
    ak, secret, uid = server.new_account()
    return Kms("new-v3", server.endpoint, ak, secret), uid


def _configured(server: InProcessServer) -> list[str]:
    ids = {status.id for status in server.services.instances._backends.key_stores()}
    return sorted(DEFAULT_INSTANCE if i == "" else i for i in ids)


def test_every_key_store_is_listed_as_an_instance(server: InProcessServer) -> None:
    kms, uid = _client(server)
    body = kms.call("ListKmsInstances")
    listed = [row["KmsInstanceId"] for row in body["KmsInstances"]["KmsInstance"]]
    assert listed[0] == DEFAULT_INSTANCE  # the default first, the configured ones by id
    assert sorted(listed) == _configured(server)
    assert body["TotalCount"] == len(listed)
    assert body["KmsInstances"]["KmsInstance"][0]["KmsInstanceArn"] == (
        f"acs:kms:cn-hangzhou:{uid}:keystore/{DEFAULT_INSTANCE}"
    )
    one = kms.call("ListKmsInstances", PageSize=1, PageNumber=2)
    assert [r["KmsInstanceId"] for r in one["KmsInstances"]["KmsInstance"]] == listed[1:2]


def test_an_instance_counts_the_callers_keys_and_secrets(server: InProcessServer) -> None:
    kms, _ = _client(server)
    assert kms.call("GetDefaultKmsInstance")["DefaultKmsInstanceId"] == DEFAULT_INSTANCE
    before = kms.call("GetKmsInstance", KmsInstanceId=DEFAULT_INSTANCE)["KmsInstance"]
    assert (before["InstanceId"], before["KeyNum"], before["SecretNum"]) == (DEFAULT_INSTANCE, 0, 0)
    assert before["Status"] == "Connected"
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    kms.call("CreateKey")
    kms.call("CreateSecret", SecretName="s1", VersionId="v1", SecretData="x", EncryptionKeyId=key_id)
    after = kms.call("GetKmsInstance", KmsInstanceId=DEFAULT_INSTANCE)["KmsInstance"]
    assert (after["KeyNum"], after["SecretNum"]) == (2, 1)
    quotas = kms.call("GetKmsInstanceQuotaInfos", KmsInstanceId=DEFAULT_INSTANCE)["KmsInstanceQuotaInfos"]
    assert [(q["ResourceType"], q["UsedQuantity"]) for q in quotas] == [("KEY", 2), ("SECRET", 1), ("VPC", 0)]
    assert quotas[0]["ResourceQuota"] == 100_000  # the test server's keys_per_region
    only_keys = kms.call("GetKmsInstanceQuotaInfos", KmsInstanceId=DEFAULT_INSTANCE, ResourceType="KEY")
    assert [q["ResourceType"] for q in only_keys["KmsInstanceQuotaInfos"]] == ["KEY"]


def _refused(kms: Kms, action: str, **params: str) -> tuple[int, str, str]:
    """(status, code, the server's Message as the SDK quotes it inside its own text)."""
    try:
        kms.call(action, **params)
    except ApiError as exc:
        return exc.status, exc.code, exc.message.split(", ", 1)[1].rsplit(" request id:", 1)[0]
    raise AssertionError(f"{action} succeeded")


def test_an_unknown_instance_and_resource_type_are_refused(server: InProcessServer) -> None:
    kms, _ = _client(server)
    assert _refused(kms, "GetKmsInstance", KmsInstanceId="kst-nope") == (
        404, "Forbidden.ResourceNotFound", "The specified KMS instance is not found."
    )  # fmt: skip
    reason = 'The specified parameter "ResourceType" is not valid. ResourceType is KEY, SECRET or VPC.'
    refused = _refused(kms, "GetKmsInstanceQuotaInfos", KmsInstanceId=DEFAULT_INSTANCE, ResourceType="DISK")
    assert refused == (400, "InvalidParameter", reason)
