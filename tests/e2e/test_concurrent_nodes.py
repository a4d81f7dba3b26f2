"""Two ``openkms serve`` processes on one database, raced through the SDK: every acknowledged
write holds, and each loser gets the error the serial order gives it.

The in-process races (tests/contract/test_serial_writes.py) cover every rule on both stores; this
proves the same with real server processes, each with its own pool, over HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from openkms.crypto.sealing import encode_root_key, new_root_key
from tests.e2e.clients import ApiError, Kms
from tests.e2e.signed import Signer
from tests.servers import process_server
from tests.stores import ADAPTERS, database_url

ADMIN_ID = "LTAIconcurrentnodes01"
ADMIN_SECRET = "concurrent-nodes-secret-0123456789"
TRIALS = 12


@contextmanager
def two_servers(adapter: str, tmp_path: Path, **env: str) -> Iterator[tuple[Kms, Kms]]:
    """Two nodes on one database (PostgreSQL), or on one data directory (SQLite)."""
    with ExitStack() as stack:
        url = stack.enter_context(database_url(adapter))
        common = {
            "OPENKMS_ROOT_KEY": encode_root_key(new_root_key()),
            "OPENKMS_ADMIN_ACCESS_KEY_ID": ADMIN_ID,
            "OPENKMS_ADMIN_ACCESS_KEY_SECRET": ADMIN_SECRET,
            "OPENKMS_RSA_POOL_SIZE": "0",
            **env,
        }
        if url is not None:
            common["OPENKMS_DATABASE_URL"] = url
        first = stack.enter_context(process_server(tmp_path / "node-a", env=common))
        second_dir = tmp_path / ("node-a" if url is None else "node-b")  # SQLite: the same file
        second = stack.enter_context(process_server(second_dir, env=common))
        yield (
            Kms("new-v3", first.endpoint, ADMIN_ID, ADMIN_SECRET),
            Kms("new-v3", second.endpoint, ADMIN_ID, ADMIN_SECRET),
        )


def race(*calls: Callable[[], Any]) -> list[tuple[str, Any]]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> tuple[str, Any]:
        barrier.wait()
        try:
            return ("ok", call())
        except ApiError as exc:
            return ("err", (exc.status, exc.code))

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_two_nodes_keep_every_acknowledged_write(adapter: str, tmp_path: Path) -> None:
    with two_servers(adapter, tmp_path, OPENKMS_KEYS_PER_REGION="40") as (a, b):
        for n in range(TRIALS):
            key_id = a.call("CreateKey")["KeyMetadata"]["KeyId"]
            outcomes = race(
                lambda k=key_id: a.call("DisableKey", KeyId=k),
                lambda k=key_id, n=n: b.call("UpdateKeyDescription", KeyId=k, Description=f"trial {n}"),
            )
            assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
            meta = b.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
            assert (meta["KeyState"], meta["Description"]) == ("Disabled", f"trial {n}"), f"trial {n}"

            name = f"alias/race-{n}"
            outcomes = race(
                lambda k=key_id, name=name: a.call("CreateAlias", AliasName=name, KeyId=k),
                lambda k=key_id, name=name: b.call("CreateAlias", AliasName=name, KeyId=k),
            )
            assert sorted(kind for kind, _ in outcomes) == ["err", "ok"], outcomes
            assert [v for kind, v in outcomes if kind == "err"] == [(400, "AliasAlreadyExists")], outcomes

        # The quota (40 per region) holds exactly when both nodes create at once.
        existing = len(a.call("ListKeys", PageSize=100)["Keys"]["Key"])

        def create_many(kms: Kms) -> list[str]:
            codes = []
            for _ in range(8):
                try:
                    kms.call("CreateKey")
                    codes.append("ok")
                except ApiError as exc:
                    codes.append(exc.code)
            return codes

        results = race(*[lambda k=(a if i % 2 else b): create_many(k) for i in range(6)])
        codes = [code for _, batch in results for code in batch]
        assert codes.count("ok") == 40 - existing
        assert set(codes) == {"ok", "Rejected.LimitExceeded"}
        assert a.call("ListKeys", PageSize=100)["TotalCount"] == 40

        # A ciphertext acknowledged by one node decrypts on the other.
        listed = a.call("ListKeys", PageSize=100)["Keys"]["Key"]
        states = {k["KeyId"]: b.call("DescribeKey", KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in listed}
        enabled = next(k for k, state in states.items() if state == "Enabled")
        blob = a.call("Encrypt", KeyId=enabled, Plaintext="both")["CiphertextBlob"]
        assert b.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "both"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_policy_change_on_one_node_is_honoured_by_the_other(adapter: str, tmp_path: Path) -> None:
    """Compiled policies and remembered decisions are per process: a change made through node A
    must reach node B's next request (the account's RAM generation, in the database)."""
    with two_servers(adapter, tmp_path) as (a, b):
        key_id = a.call("CreateKey")["KeyMetadata"]["KeyId"]
        ram = Signer(f"http://{a.endpoint}", ADMIN_ID, ADMIN_SECRET)

        def on_a(action: str, **params: str) -> dict[str, Any]:
            response = ram.v1(action, params, version="2015-05-01").send()
            assert response.status_code == 200, response.text
            return dict(response.json())

        on_a("CreateUser", UserName="app")
        document = json.dumps(
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}
        )
        on_a("CreatePolicy", PolicyName="enc", PolicyDocument=document)
        on_a("AttachPolicyToUser", PolicyType="Custom", PolicyName="enc", UserName="app")
        pair = on_a("CreateAccessKey", UserName="app")["AccessKey"]
        user_on_b = Kms("new-v3", b.endpoint, pair["AccessKeyId"], pair["AccessKeySecret"])
        assert user_on_b.call("Encrypt", KeyId=key_id, Plaintext="x")["KeyId"] == key_id
        on_a("DetachPolicyFromUser", PolicyType="Custom", PolicyName="enc", UserName="app")
        with pytest.raises(ApiError) as err:
            user_on_b.call("Encrypt", KeyId=key_id, Plaintext="x")
        assert err.value.code == "Forbidden.RAM"
        on_a("AttachPolicyToUser", PolicyType="Custom", PolicyName="enc", UserName="app")
        assert user_on_b.call("Encrypt", KeyId=key_id, Plaintext="x")["KeyId"] == key_id
        on_a("UpdateAccessKey", UserName="app", UserAccessKeyId=pair["AccessKeyId"], Status="Inactive")
        with pytest.raises(ApiError) as err:
            user_on_b.call("Encrypt", KeyId=key_id, Plaintext="x")
        assert err.value.code == "Forbidden.AccessKey"
