"""The official SDKs against a throttled server: what each does with 429 Rejected.Throttling.

- alibabacloud-kms20160120 (alibabacloud-tea-openapi 0.4.6): retries when its ``Config`` has
  ``retry_options`` naming the code, waiting its backoff policy's delay; ``RuntimeOptions(
  autoretry=True)`` alone does not retry (that generation reads retries from the Config only).
- aliyun-python-sdk-kms (aliyun-python-sdk-core 2.16.1): its default policy never retries KMS
  (KMS is absent from its retry_config.json); a RetryPolicy whose condition names the code does.

The account's CreateKey rate is one per 1,000 s of the server's clock, so real time refills
nothing during a test; each SDK's backoff moves the server's clock instead of sleeping through it.
Attempts are counted on the server, by its own metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as new_models
from alibabacloud_kms20160120.client import Client as NewClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from aliyunsdkcore.retry.backoff_strategy import BackoffStrategy
from aliyunsdkcore.retry.retry_condition import RetryCondition as OldRetryCondition
from aliyunsdkcore.retry.retry_policy import RetryPolicy
from darabonba.policy.retry import BackoffPolicy, RetryCondition, RetryOptions, RetryPolicyContext
from darabonba.runtime import RuntimeOptions
from prometheus_client import REGISTRY

from openkms.domain.quotas import QuotaClass, Rate
from openkms.system import OffsetClock
from tests.servers import InProcessServer, inprocess_server

ONE_PER_1000_SECONDS = Rate(0.001)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InProcessServer]:
    with inprocess_server(tmp_path / "data", admin_quotas=((QuotaClass.CREATE_KEY, ONE_PER_1000_SECONDS),)) as srv:
        yield srv


def answered(code: str) -> float:
    return REGISTRY.get_sample_value("openkms_requests_total", {"action": "CreateKey", "code": code}) or 0.0


class Counted:
    def __init__(self) -> None:
        self.throttled, self.ok = answered("Rejected.Throttling"), answered("OK")

    def since(self) -> tuple[int, int]:
        return int(answered("Rejected.Throttling") - self.throttled), int(answered("OK") - self.ok)


class ServerClockBackoff(BackoffPolicy):
    """The new SDK's backoff policy: the wait it asks for is spent on the server's clock (1 ms real)."""

    def __init__(self, clock: OffsetClock) -> None:
        super().__init__({"policy": "Fixed"})
        self.clock = clock
        self.waits = 0

    def get_delay_time(self, ctx: RetryPolicyContext) -> int:
        self.waits += 1
        self.clock.advance(1000)
        return 1


def new_client(srv: InProcessServer, retry: RetryOptions | None = None) -> NewClient:
    return NewClient(
        Config(
            access_key_id=srv.access_key_id,
            access_key_secret=srv.secret,
            endpoint=srv.endpoint,
            protocol="http",
            region_id="cn-hangzhou",
            retry_options=retry,
        )
    )


def test_the_new_sdk_sees_429_rejected_throttling(server: InProcessServer) -> None:
    client = new_client(server)
    client.create_key(new_models.CreateKeyRequest())
    counted = Counted()
    with pytest.raises(ClientException) as refused:
        client.create_key_with_options(new_models.CreateKeyRequest(), RuntimeOptions(autoretry=True, max_attempts=3))
    assert (refused.value.status_code, refused.value.code) == (429, "Rejected.Throttling")
    assert "QPS Limit Exceeded" in refused.value.message
    assert counted.since() == (1, 0)  # runtime autoretry alone: one attempt


def test_the_new_sdk_retries_with_retry_options_naming_the_code(server: InProcessServer) -> None:
    backoff = ServerClockBackoff(server.clock)
    retry = RetryOptions(
        {"retryable": True, "retryCondition": [
            RetryCondition({"errorCode": ["Rejected.Throttling"], "maxAttempts": 3, "backoff": backoff}),
        ]}
    )  # fmt: skip
    client = new_client(server, retry)
    client.create_key(new_models.CreateKeyRequest())
    counted = Counted()
    key = client.create_key(new_models.CreateKeyRequest()).body.key_metadata
    assert key.key_id
    assert backoff.waits == 1
    assert counted.since() == (1, 1)  # refused once, then served after the backoff


class ThrottlingCondition(OldRetryCondition):
    """Retry Rejected.Throttling (up to ``times``), nothing else."""

    def __init__(self, times: int) -> None:
        self.times = times

    def should_retry(self, retry_policy_context: Any) -> int:
        exc = retry_policy_context.exception
        if retry_policy_context.retries_attempted >= self.times or not isinstance(exc, ServerException):
            return OldRetryCondition.NO_RETRY
        if exc.get_error_code() != "Rejected.Throttling":
            return OldRetryCondition.NO_RETRY
        return OldRetryCondition.SHOULD_RETRY | OldRetryCondition.SHOULD_RETRY_WITH_THROTTLING_BACKOFF


class ServerClockStrategy(BackoffStrategy):
    def __init__(self, clock: OffsetClock) -> None:
        self.clock = clock

    def compute_delay_before_next_retry(self, retry_policy_context: Any) -> int:
        self.clock.advance(1000)
        return 1


def old_create_key(client: AcsClient, srv: InProcessServer) -> Any:
    request = CommonRequest(domain=srv.endpoint, version="2016-01-20", action_name="CreateKey", product="Kms")
    request.set_protocol_type("http")
    request.set_method("POST")
    return client.do_action_with_exception(request)


def test_the_old_sdk_does_not_retry_kms_throttling_by_default(server: InProcessServer) -> None:
    client = AcsClient(server.access_key_id, server.secret, "cn-hangzhou", auto_retry=True, max_retry_time=3)
    old_create_key(client, server)
    counted = Counted()
    with pytest.raises(ServerException) as refused:
        old_create_key(client, server)
    assert (refused.value.http_status, refused.value.error_code) == (429, "Rejected.Throttling")
    assert refused.value.message == "QPS Limit Exceeded"
    assert counted.since() == (1, 0)


def test_the_old_sdk_retries_with_a_policy_naming_the_code(server: InProcessServer) -> None:
    client = AcsClient(server.access_key_id, server.secret, "cn-hangzhou")
    # aliyun-python-sdk-core takes no policy in its constructor: the attribute its loop reads.
    client._retry_policy = RetryPolicy(ThrottlingCondition(3), ServerClockStrategy(server.clock))
    old_create_key(client, server)
    counted = Counted()
    assert old_create_key(client, server)
    assert counted.since() == (1, 1)
