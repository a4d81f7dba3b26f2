"""The application's tests, against openkms through its pytest plugin: no cloud account needed."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_kms20160120 import models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from envelope import open_sealed, seal

from openkms.testing import OpenKms


@pytest.fixture
def key_id(openkms_client: Any) -> str:
    key: str = openkms_client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
    return key


def test_a_sealed_message_opens(openkms_client: Any, key_id: str) -> None:
    assert open_sealed(openkms_client, seal(openkms_client, key_id, b"hello")) == b"hello"


def test_a_message_cannot_be_opened_once_its_key_is_deleted(openkms: OpenKms, openkms_client: Any, key_id: str) -> None:
    envelope = seal(openkms_client, key_id, b"hello")
    openkms_client.schedule_key_deletion(models.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
    openkms.clock.advance(days=7, minutes=1)
    with pytest.raises(AlibabaCloudException) as err:
        open_sealed(openkms_client, envelope)
    assert err.value.code == "Forbidden.KeyNotFound"


def test_a_throttled_kms_is_an_error_the_caller_sees(openkms: OpenKms, openkms_client: Any, key_id: str) -> None:
    openkms.faults.add(action="GenerateDataKey", preset="throttle", count=1)
    with pytest.raises(AlibabaCloudException) as err:
        seal(openkms_client, key_id, b"hello")
    assert err.value.code == "Rejected.Throttling"
    assert open_sealed(openkms_client, seal(openkms_client, key_id, b"hello")) == b"hello"  # once only
