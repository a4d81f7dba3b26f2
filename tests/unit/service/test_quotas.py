"""QuotaService: a cluster-wide rate shared by the live nodes and the node's workers, per
(account, region, class), on the server's clock."""

from __future__ import annotations

import pytest

from openkms.domain import errors
from openkms.domain.quotas import ALIBABA_SHARED, UNLIMITED, QuotaClass, QuotaPlan, Rate
from openkms.service.quotas import QuotaService
from openkms.system import ManualClock, SingleNode


class Nodes:
    """A LiveNodes port whose count the test sets (what the lease table would report)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.asked = 0

    def live_nodes(self) -> int:
        self.asked += 1
        if self.count < 0:
            raise errors.BackendUnavailable("the lease table cannot be read")
        return self.count


def admitted(quotas: QuotaService, clock: ManualClock, seconds: float, per_second: float, **where: str) -> int:
    """Requests admitted when they come ``per_second`` for ``seconds`` of the clock."""
    account, region, action = where.get("account", "1"), where.get("region", "cn-hangzhou"), where.get("action")
    count = 0
    for _ in range(int(seconds * per_second)):
        try:
            quotas.take(account, region, "kms", action or "Encrypt")
            count += 1
        except errors.Throttled:
            pass
        clock.advance(1 / per_second)
    return count


def plan(count: float, cls: QuotaClass = QuotaClass.CRYPTO_SYM) -> QuotaPlan:
    return QuotaPlan(UNLIMITED, (("1", cls, Rate(count)),))


@pytest.mark.parametrize(("nodes", "workers"), [(1, 1), (2, 1), (3, 2), (1, 4)])
def test_each_process_takes_its_share(nodes: int, workers: int) -> None:
    clock = ManualClock(1_000.0)
    quotas = QuotaService(plan(120), clock, Nodes(nodes), workers)
    got = admitted(quotas, clock, 20, 400)
    expected = 120 / (nodes * workers) * 20
    assert 0.8 * expected <= got <= 1.2 * expected, (got, expected)


def test_the_share_follows_the_live_node_count_within_a_second() -> None:
    clock, nodes = ManualClock(1_000.0), Nodes(1)
    quotas = QuotaService(plan(100), clock, nodes)
    admitted(quotas, clock, 5, 400)
    nodes.count = 4  # three more nodes joined
    clock.advance(2)
    got = admitted(quotas, clock, 20, 400)
    assert 0.8 * 25 * 20 <= got <= 1.2 * 25 * 20
    assert nodes.asked <= 5 + 20 + 3  # about once a second, not per request


def test_an_unreadable_node_count_keeps_the_last_one() -> None:
    clock, nodes = ManualClock(1_000.0), Nodes(2)
    quotas = QuotaService(plan(100), clock, nodes)
    admitted(quotas, clock, 2, 400)
    nodes.count = -1
    got = admitted(quotas, clock, 10, 400)
    assert 0.8 * 500 <= got <= 1.2 * 500  # still half of 100 per second


def test_accounts_regions_and_classes_have_buckets_of_their_own() -> None:
    clock = ManualClock(1_000.0)
    quotas = QuotaService(QuotaPlan(ALIBABA_SHARED), clock, SingleNode())
    for _ in range(10):  # CreateKey: 10 per second
        quotas.take("1", "cn-hangzhou", "kms", "CreateKey")
    with pytest.raises(errors.Throttled) as refused:
        quotas.take("1", "cn-hangzhou", "kms", "CreateKey")
    assert (refused.value.quota_class, refused.value.retry_after, refused.value.message) == (
        "create_key", 1, "QPS Limit Exceeded",
    )  # fmt: skip
    quotas.take("1", "eu-central-1", "kms", "CreateKey")  # another region
    quotas.take("2", "cn-hangzhou", "kms", "CreateKey")  # another account
    quotas.take("1", "cn-hangzhou", "kms", "DescribeKey")  # another class
    quotas.take("1", "cn-hangzhou", "ram", "CreateUser")  # RAM: unlimited in alibaba-shared


def test_rotate_secret_is_counted_per_hour() -> None:
    clock = ManualClock(1_000.0)
    quotas = QuotaService(QuotaPlan(ALIBABA_SHARED), clock, SingleNode())
    # One a minute for ten hours; the bucket holds an hour's fifty, so a burst of fifty comes first.
    got = admitted(quotas, clock, 10 * 3600, 1 / 60, action="RotateSecret")
    assert 0.8 * 500 <= got <= 1.2 * 500
    fresh = QuotaService(QuotaPlan(ALIBABA_SHARED), clock, SingleNode())
    for _ in range(50):
        fresh.take("1", "cn-hangzhou", "kms", "RotateSecret")
    with pytest.raises(errors.Throttled) as refused:
        fresh.take("1", "cn-hangzhou", "kms", "RotateSecret")
    assert refused.value.retry_after == 72  # an hour's fiftieth, in whole seconds


def test_unlimited_takes_nothing_and_never_asks_the_node_count() -> None:
    clock, nodes = ManualClock(1_000.0), Nodes(1)
    quotas = QuotaService(QuotaPlan(), clock, nodes)
    assert not quotas.enforced
    for _ in range(10_000):
        quotas.take("1", "cn-hangzhou", "kms", "CreateKey")
    assert nodes.asked == 0
