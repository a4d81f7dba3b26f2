"""The server on PostgreSQL (the operators' multi-node store): the same SDK calls, the same answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.clients import ApiError, Kms
from tests.servers import inprocess_server
from tests.stores import ADAPTERS, database_url


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_key_lifecycle_and_crypto_on_each_store(adapter: str, tmp_path: Path) -> None:
    with database_url(adapter) as url, inprocess_server(tmp_path / "data", database_url=url) as srv:
        assert srv.runtime.offload is (url is not None)  # a network database runs off the event loop
        kms = Kms("new-v3", srv.endpoint, srv.access_key_id, srv.secret)
        key = kms.call("CreateKey", Description="on " + adapter, Tags='[{"TagKey":"k","TagValue":"v"}]')["KeyMetadata"]
        kms.call("CreateAlias", AliasName="alias/pg", KeyId=key["KeyId"])
        blob = kms.call("Encrypt", KeyId="alias/pg", Plaintext="stored", EncryptionContext={"a": "b"})["CiphertextBlob"]
        assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == "stored"
        with pytest.raises(ApiError) as err:
            kms.call("CreateAlias", AliasName="alias/pg", KeyId=key["KeyId"])
        assert err.value.code == "AliasAlreadyExists"
        kms.call("UpdateRotationPolicy", KeyId=key["KeyId"], EnableAutomaticRotation=True, RotationInterval="7d")
        srv.clock.advance(7 * 86400 + 1)
        assert srv.services.scheduler.run_once().rotated == (key["KeyId"],)
        assert len(kms.call("ListKeyVersions", KeyId=key["KeyId"])["KeyVersions"]["KeyVersion"]) == 2
        assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == "stored"
        assert kms.call("ListResourceTags", KeyId=key["KeyId"])["Tags"]["Tag"][0]["TagValue"] == "v"
