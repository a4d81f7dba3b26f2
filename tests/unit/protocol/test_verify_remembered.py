"""Authentication from remembered rows on PostgreSQL (protocol/verify.py, storage/sql/changes.py):
a request's AccessKey may come from a node's remembered rows, checked by the nonce claim's round
trip. Two runtimes on one database (one data directory: one root key) play two nodes; node b's
requests run in a read scope, as ``openkms serve`` runs each request, and each is the first on
node b after node a's change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.protocol.app import Response
from tests.inproc import Inproc, inproc_runtime
from tests.stores import POSTGRES_ENV, POSTGRES_URL, database_url

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Inproc, Inproc]]:
    with (
        database_url("postgres") as url,
        inproc_runtime(tmp_path / "data", database_url=url) as a,
        inproc_runtime(tmp_path / "data", database_url=url) as b,
    ):
        yield a, b


def _on_b(a: Inproc, b: Inproc) -> Response:
    """A request on node b, signed with node a's pair, in a read scope of its own."""
    b.access_key_id, b.secret = a.access_key_id, a.secret
    with b.runtime.store.request():
        return b.request("DescribeAccountKmsStatus")


def _remembered_on_b(a: Inproc, b: Inproc) -> None:
    """Two requests: the first one's rows are read under the change counter's first value node b
    sees, the second's are remembered under it."""
    assert _code(_on_b(a, b)) == (200, "OK")
    assert _code(_on_b(a, b)) == (200, "OK")


def _code(resp: Response) -> tuple[int, str]:
    return resp.status, "OK" if resp.status == 200 else str(json.loads(resp.body)["Code"])


def test_a_pair_disabled_on_one_node_is_refused_by_the_others_next_request(nodes: tuple[Inproc, Inproc]) -> None:
    a, b = nodes
    _remembered_on_b(a, b)
    a.runtime.services.identity.set_enabled(a.access_key_id, False)
    assert _code(_on_b(a, b)) == (403, "Forbidden.AccessKey")


def test_a_pair_enabled_again_is_accepted_though_remembered_disabled(nodes: tuple[Inproc, Inproc]) -> None:
    """The refusal would rest on a remembered row: it is checked first, and the request judged again."""
    a, b = nodes
    a.runtime.services.identity.set_enabled(a.access_key_id, False)
    assert _code(_on_b(a, b)) == (403, "Forbidden.AccessKey")
    assert _code(_on_b(a, b)) == (403, "Forbidden.AccessKey")  # remembered disabled
    a.runtime.services.identity.set_enabled(a.access_key_id, True)
    assert _code(_on_b(a, b)) == (200, "OK")


def test_a_pair_deleted_on_one_node_is_not_found_by_the_others_next_request(nodes: tuple[Inproc, Inproc]) -> None:
    a, b = nodes
    _remembered_on_b(a, b)
    a.runtime.services.identity.delete_access_key(a.access_key_id)
    assert _code(_on_b(a, b)) == (404, "InvalidAccessKeyId.NotFound")


CHOSEN_ID = "LTAIchosenbytheoperator0"


def test_a_pair_looked_up_before_it_existed_is_found_once_created(nodes: tuple[Inproc, Inproc]) -> None:
    a, b = nodes
    a.access_key_id, a.secret = CHOSEN_ID, "s" * 30
    _remembered_on_b(b, b)  # node b's own pair: the change counter's value, remembered
    assert _code(_on_b(a, b)) == (404, "InvalidAccessKeyId.NotFound")  # remembered: no such pair
    a.runtime.services.identity.bootstrap_admin(CHOSEN_ID, "s" * 30)  # the environment's pair, added
    assert _code(_on_b(a, b)) == (200, "OK")


def test_a_pair_given_a_new_secret_on_one_node_takes_only_the_new_secret_on_the_others(
    nodes: tuple[Inproc, Inproc],
) -> None:
    a, b = nodes
    a.runtime.services.identity.bootstrap_admin(CHOSEN_ID, "1" * 30)
    a.access_key_id, a.secret = CHOSEN_ID, "1" * 30
    _remembered_on_b(a, b)  # node b remembers the first secret
    a.runtime.services.identity.bootstrap_admin(CHOSEN_ID, "2" * 30)  # re-keyed
    assert _code(_on_b(a, b)) == (400, "SignatureDoesNotMatch")  # signed with the former secret
    a.secret = "2" * 30
    assert _code(_on_b(a, b)) == (200, "OK")
