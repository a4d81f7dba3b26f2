"""Every write is the outcome of some serial order: races between two nodes on one database.

Two runtimes built by the composition root on the same database stand for two ``openkms serve``
nodes (each has its own engine and connection pool, exactly as two processes would). Each trial
releases two (or more) threads at a barrier; the final state must be one that some serial order of
the acknowledged calls explains, and each loser must get the error that order gives.

On SQLite every writer is serialised by ``BEGIN IMMEDIATE``; on PostgreSQL the storage layer must
serialise what each rule reads (row and scope locks). The same tests run on both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from openkms.domain import errors
from openkms.domain.identity import Caller
from openkms.domain.listing import Page
from openkms.domain.rotation import DAY
from openkms.domain.secrets import DataType
from openkms.domain.specs import Origin
from openkms.domain.states import KeyState
from openkms.service.container import Services
from openkms.service.keys import CreateKeyRequest
from openkms.service.secrets import CreateSecretRequest
from tests.nodes import Cluster, errs, oks, race, two_nodes, wrap_for_import
from tests.stores import ADAPTERS

TRIALS = 24  # the code before the scope locks lost a DisableKey on PostgreSQL in the first trials
ALL = Page(1, 100)


@pytest.fixture(params=ADAPTERS)
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    with two_nodes(request.param, tmp_path) as c:
        yield c


def test_disable_key_is_never_lost_to_a_concurrent_description_change(cluster: Cluster) -> None:
    a, b = cluster.nodes
    me = cluster.caller
    for n in range(TRIALS):
        key = a.keys.create_key(me, CreateKeyRequest())
        outcomes = race(
            lambda k=key: a.keys.disable_key(me, k.id),
            lambda k=key, n=n: b.keys.update_description(me, k.id, f"trial {n}"),
        )
        assert oks(outcomes) == 2
        final = a.keys.describe_key(me, key.id)
        assert final.state is KeyState.DISABLED, f"trial {n}: an acknowledged DisableKey was lost"
        assert final.description == f"trial {n}", f"trial {n}: an acknowledged description was lost"


def test_deletion_protection_and_scheduled_deletion_follow_one_order(cluster: Cluster) -> None:
    a, b = cluster.nodes
    me = cluster.caller
    for n in range(TRIALS):
        key = a.keys.create_key(me, CreateKeyRequest())
        protect, schedule = race(
            lambda k=key: a.keys.set_deletion_protection(me, k.id, True, "keep"),
            lambda k=key: b.keys.schedule_deletion(me, k.id, 7),
        )
        final = a.keys.describe_key(me, key.id)
        if protect[0] == "ok":  # protection first: the deletion is refused
            assert schedule == ("err", "DeletionProtected"), f"trial {n}: {protect}, {schedule}"
            assert final.deletion_protection, f"trial {n}: an acknowledged protection was lost"
            assert final.state is KeyState.ENABLED, f"trial {n}"
        else:  # deletion first: a pending key's protection cannot change
            assert protect == ("err", "RejectedPendingDeletion"), f"trial {n}: {protect}, {schedule}"
            assert schedule[0] == "ok", f"trial {n}: {schedule}"
            assert final.state is KeyState.PENDING_DELETION, f"trial {n}"
            assert not final.deletion_protection, f"trial {n}"


def test_create_key_version_keeps_its_spacing_across_nodes(cluster: Cluster) -> None:
    a, b = cluster.nodes
    me = cluster.caller
    for n in range(TRIALS // 2):
        key = a.keys.create_key(me, CreateKeyRequest(spec="EC_P256"))
        cluster.clock.advance(7 * DAY + 1)
        outcomes = race(lambda k=key: a.versions.create_key_version(me, k.id),
                        lambda k=key: b.versions.create_key_version(me, k.id))  # fmt: skip
        assert oks(outcomes) == 1, f"trial {n}: {outcomes}"
        assert errs(outcomes) == ["UnsupportedOperation"], f"trial {n}: {outcomes}"  # the spacing rule
        _, _, total = a.versions.list_versions(me, key.id, ALL)
        assert total == 2, f"trial {n}: {total} versions"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_key_quota_holds_exactly_under_concurrent_creates(adapter: str, tmp_path: Path) -> None:
    with two_nodes(adapter, tmp_path, keys_per_region=20) as c:
        me = c.caller
        calls = [lambda s=c.nodes[i % 2]: [_try_create(s, me) for _ in range(4)] for i in range(8)]
        results = race(*calls)
        made = sum(sum(r) for _, r in results)
        assert made == 20
        _, total = c.nodes[0].keys.list_keys(me, ALL)
        assert total == 20


def _try_create(services: Services, me: Caller) -> int:
    try:
        services.keys.create_key(me, CreateKeyRequest())
    except errors.LimitExceeded:
        return 0
    return 1


def test_two_schedulers_rotate_each_due_key_once(cluster: Cluster) -> None:
    a, b = cluster.nodes
    me = cluster.caller
    made = [
        a.keys.create_key(me, CreateKeyRequest(rotation_enabled=True, rotation_interval=7 * DAY)) for _ in range(30)
    ]
    cluster.clock.advance(7 * DAY + 1)
    reports = race(a.scheduler.run_once, b.scheduler.run_once)
    rotated = [kid for _, report in reports for kid in report.rotated]
    assert sorted(rotated) == sorted(k.id for k in made)
    for key in made:
        _, _, total = a.versions.list_versions(me, key.id, ALL)
        assert total == 2, f"{key.id} rotated {total - 1} times in one round"


def test_two_first_imports_bind_one_material(cluster: Cluster) -> None:
    a, b = cluster.nodes
    me = cluster.caller
    for n in range(TRIALS // 2):
        key = a.keys.create_key(me, CreateKeyRequest(origin=Origin.EXTERNAL))
        first = a.importing.get_parameters(me, key.id, "RSAES_OAEP_SHA_256", "RSA_2048")
        second = b.importing.get_parameters(me, key.id, "RSAES_OAEP_SHA_256", "RSA_2048")
        one, other = os.urandom(32), os.urandom(32)
        outcomes = race(
            partial(a.importing.import_material, me, key.id, first.token, wrap_for_import(first.public_key, one), None),
            partial(
                b.importing.import_material, me, key.id, second.token, wrap_for_import(second.public_key, other), None
            ),
        )
        assert oks(outcomes) == 1, f"trial {n}: {outcomes}"
        assert errs(outcomes) == ["InvalidKeyMaterial"], f"trial {n}: {outcomes}"
        winner = one if outcomes[0][0] == "ok" else other
        blob = a.crypto.encrypt(me, key.id, b"bound", {}).blob
        assert a.crypto.decrypt(me, blob, {}).plaintext == b"bound"
        # The material that won is the one the key keeps: importing it again is accepted.
        again = a.importing.get_parameters(me, key.id, "RSAES_OAEP_SHA_256", "RSA_2048")
        a.importing.import_material(me, key.id, again.token, wrap_for_import(again.public_key, winner), None)


def test_the_loser_of_two_create_alias_calls_gets_alias_already_exists(cluster: Cluster) -> None:
    a, b = cluster.nodes
    me = cluster.caller
    key = a.keys.create_key(me, CreateKeyRequest())
    for n in range(TRIALS):
        name = f"alias/race-{n}"
        outcomes = race(partial(a.aliases.create_alias, me, name, key.id),
                        partial(b.aliases.create_alias, me, name, key.id))  # fmt: skip
        assert oks(outcomes) == 1, f"trial {n}: {outcomes}"
        assert errs(outcomes) == ["AliasAlreadyExists"], f"trial {n}: {outcomes}"


def test_two_puts_of_new_versions_leave_exactly_one_current(cluster: Cluster) -> None:
    """Each Put moves ACSCurrent: whatever the order, one version holds it and the other is its
    ACSPrevious, and neither Put is lost."""
    a, b = cluster.nodes
    me = cluster.caller
    for n in range(TRIALS // 2):
        name = f"race-{n}"
        a.secrets.create_secret(me, CreateSecretRequest(name, "v1", "one"))
        outcomes = race(
            lambda nm=name: a.secrets.put_secret_value(me, nm, "va", "a", DataType.TEXT),
            lambda nm=name: b.secrets.put_secret_value(me, nm, "vb", "b", DataType.TEXT),
        )
        assert oks(outcomes) == 2, f"trial {n}: {outcomes}"
        _, versions, _ = a.secrets.list_version_ids(me, name, True, ALL)
        stages = {v.version_id: v.stages for v in versions}
        holders = [vid for vid, st in stages.items() if "ACSCurrent" in st]
        assert len(holders) == 1, f"trial {n}: {stages}"
        assert sorted(stages[{"va": "vb", "vb": "va"}[holders[0]]]) == ["ACSPrevious"], f"trial {n}: {stages}"


def test_two_creates_of_one_name_one_wins(cluster: Cluster) -> None:
    a, b = cluster.nodes
    me = cluster.caller
    for n in range(TRIALS // 2):
        name = f"one-name-{n}"
        outcomes = race(
            lambda nm=name: a.secrets.create_secret(me, CreateSecretRequest(nm, "v1", "a")),
            lambda nm=name: b.secrets.create_secret(me, CreateSecretRequest(nm, "v1", "b")),
        )
        assert oks(outcomes) == 1, f"trial {n}: {outcomes}"
        assert errs(outcomes) == ["SecretAlreadyExists"], f"trial {n}: {outcomes}"


def test_first_secrets_of_an_account_share_one_service_key(cluster: Cluster) -> None:
    """Both nodes may make the service-managed key for the first secrets at once; one key is kept."""
    a, b = cluster.nodes
    for n in range(TRIALS // 4):
        issued = a.identity.create_access_key(new_account=True)
        me = Caller(issued.access_key.account_uid, "cn-hangzhou", issued.access_key.id)
        outcomes = race(
            lambda me=me, n=n: a.secrets.create_secret(me, CreateSecretRequest(f"first-a-{n}", "v1", "a")),
            lambda me=me, n=n: b.secrets.create_secret(me, CreateSecretRequest(f"first-b-{n}", "v1", "b")),
        )
        assert oks(outcomes) == 2, f"trial {n}: {outcomes}"
        keys = {a.secrets.describe_secret(me, f"first-{x}-{n}").encryption_key_id for x in "ab"}
        assert len(keys) == 1, f"trial {n}: {keys}"
