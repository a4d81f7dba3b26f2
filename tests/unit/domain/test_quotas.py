"""domain/quotas.py: every action of every API has a quota class, the alibaba-shared profile is
the cloud's published table, and a token bucket admits its rate."""

from __future__ import annotations

import pytest

from openkms.domain import actions
from openkms.domain.quotas import (
    ALIBABA_SHARED,
    CLASS_OF,
    PROFILES,
    UNLIMITED,
    QuotaClass,
    QuotaPlan,
    Rate,
    TokenBucket,
    retry_after_seconds,
)
from openkms.protocol.dispatch import ACTIONS, ACTIONTRAIL_ACTIONS, RAM_ACTIONS
from openkms.protocol.gateway.app import QUOTA_SERVICE
from openkms.protocol.gateway.operations import OPERATIONS

DISPATCH = {"kms": ACTIONS, "ram": RAM_ACTIONS, "actiontrail": ACTIONTRAIL_ACTIONS, QUOTA_SERVICE: OPERATIONS}


@pytest.mark.parametrize(("service", "name"), [(s, n) for s, table in DISPATCH.items() for n in table], ids=str)
def test_every_dispatched_action_has_a_quota_class(service: str, name: str) -> None:
    # An action added to a dispatch table without a class fails here, instead of going unlimited.
    assert (service, name) in CLASS_OF, f"{service}:{name} has no quota class (domain/quotas.py _MEMBERS)"


def test_the_classes_name_only_served_actions() -> None:
    served = {(s, n) for s, table in DISPATCH.items() for n in table}
    assert set(CLASS_OF) == served
    declared = {(a.service, a.name) for t in (actions.ACTIONS, actions.RAM_ACTIONS, actions.ACTIONTRAIL_ACTIONS)
                for a in t.values()}  # fmt: skip
    assert {c for c in CLASS_OF if c[0] != QUOTA_SERVICE} == declared


def test_every_class_has_members() -> None:
    assert set(CLASS_OF.values()) == set(QuotaClass)


def test_alibaba_shared_is_the_published_table() -> None:
    # wave2-design-notes.md §4: per account and region, the shared gateway's numbers.
    rates = PROFILES[ALIBABA_SHARED]
    per_second = {cls.value: rate.count for cls, rate in rates.items() if rate.per_seconds == 1}
    assert per_second == {
        "crypto_sym": 1000, "crypto_asym": 200, "mgmt_read": 50, "mgmt_write": 30, "create_key": 10,
        "list_resource_tags": 300, "open_service": 1, "secret_get": 450, "secret_write": 10, "secret_low": 40,
    }  # fmt: skip
    assert rates[QuotaClass.ROTATE_SECRET] == Rate(50, 3600)
    assert PROFILES[UNLIMITED] == {}


def test_a_sample_of_the_classification() -> None:
    assert CLASS_OF["kms", "Encrypt"] is QuotaClass.CRYPTO_SYM
    assert CLASS_OF["kms", "AsymmetricSign"] is QuotaClass.CRYPTO_ASYM
    assert CLASS_OF["kms", "CreateKey"] is QuotaClass.CREATE_KEY
    assert CLASS_OF["kms", "DescribeKey"] is QuotaClass.MGMT_READ
    assert CLASS_OF["kms", "DisableKey"] is QuotaClass.MGMT_WRITE
    assert CLASS_OF["kms", "GetSecretValue"] is QuotaClass.SECRET_GET
    assert CLASS_OF["kms", "RotateSecret"] is QuotaClass.ROTATE_SECRET
    assert CLASS_OF["ram", "CreatePolicy"] is QuotaClass.RAM_WRITE  # the RAM API's, not KMS's
    assert CLASS_OF["actiontrail", "LookupEvents"] is QuotaClass.TRAIL_LOOKUP


def test_an_override_replaces_the_profile_for_its_account_only() -> None:
    plan = QuotaPlan(ALIBABA_SHARED, (("1234", QuotaClass.CRYPTO_SYM, Rate(5)),))
    rates = plan.rates()
    assert rates["1234", QuotaClass.CRYPTO_SYM] == Rate(5)
    assert rates["", QuotaClass.CRYPTO_SYM] == Rate(1000)
    assert not plan.unlimited
    assert QuotaPlan().unlimited
    assert not QuotaPlan(UNLIMITED, (("1", QuotaClass.CREATE_KEY, Rate(1)),)).unlimited


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown quota profile"):
        QuotaPlan("alibaba-dedicated")


@pytest.mark.parametrize("rate", [Rate(1), Rate(10), Rate(1000), Rate(50, 3600), Rate(0.5)])
def test_a_bucket_admits_its_rate_within_a_fifth(rate: Rate) -> None:
    now = 1_000_000.0
    bucket = TokenBucket(now, max(rate.count, 1.0))
    window = 20 * rate.per_seconds  # twenty periods
    step = 1 / (rate.per_second * 4)  # requests four times as fast as the rate
    admitted = 0
    t = now
    while t < now + window:
        admitted += bucket.take(t, rate) == 0.0
        t += step
    expected = rate.per_second * window
    assert 0.8 * expected <= admitted <= 1.2 * expected, (admitted, expected)


def test_a_refusal_says_how_long_until_a_token() -> None:
    bucket = TokenBucket(0.0, 2)
    assert bucket.take(0.0, Rate(2)) == 0.0
    assert bucket.take(0.0, Rate(2)) == 0.0
    assert bucket.take(0.0, Rate(2)) == pytest.approx(0.5)
    assert bucket.take(0.5, Rate(2)) == 0.0  # refilled by then


def test_a_clock_set_back_refills_nothing() -> None:
    bucket = TokenBucket(100.0, 1)
    assert bucket.take(100.0, Rate(1)) == 0.0
    assert bucket.take(50.0, Rate(1)) > 0
    assert bucket.take(100.5, Rate(1)) > 0  # half a second after the newest time seen
    assert bucket.take(101.0, Rate(1)) == 0.0


def test_a_share_below_one_request_still_admits_one_at_a_time() -> None:
    share = Rate(1).share(4)  # a quarter request per second: a worker's share of 1 QPS on 4
    bucket = TokenBucket(0.0, max(share.count, 1.0))
    assert bucket.take(0.0, share) == 0.0
    assert bucket.take(0.0, share) == pytest.approx(4.0)


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert retry_after_seconds(0.001) == 1
    assert retry_after_seconds(1.0) == 1
    assert retry_after_seconds(1.2) == 2
    assert retry_after_seconds(71.9) == 72
