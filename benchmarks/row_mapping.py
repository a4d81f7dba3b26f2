"""What mapping rows costs: the mappers derived from the dataclasses (storage/sql/mapping.py) against
the hand-written functions they replaced, in-process, on rows as the SQLite driver returns them.

The request path maps an AccessKey, a key and a version per Encrypt (when they are not remembered:
the last case maps the three, ``--rows`` times); writes map a key to its parameters. Each case
maps ``--rows`` rows with timeit (CPU time, garbage collection off), the two implementations
taking turns round by round, either first in turn; the table gives the fastest of ``--rounds``
rounds in ms and ns per row (the minimum: what the code costs when nothing else interferes,
as timeit's documentation advises), and the ratio derived / hand-written.

    python benchmarks/row_mapping.py [--rows 100000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import time
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openkms.domain.identity import AccessKey, AccessKeyStatus
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.specs import KeyUsage, Origin, ProtectionLevel
from openkms.domain.states import KeyState
from openkms.storage.sql.identity import ACCESS_KEY
from openkms.storage.sql.keys import KEY
from openkms.storage.sql.versions import VERSION

KEY_COLUMNS = [c.name for c in KEY.columns]

# --- the hand-written mapping of storage/sql.py before the package (commit 6a3579d) -----------


def hand_key(r: Sequence[Any]) -> Key:
    v = dict(zip(KEY_COLUMNS, r, strict=True))
    return Key(
        id=v["id"],
        account_uid=v["account_uid"],
        region=v["region"],
        spec=v["spec"],
        usage=KeyUsage(v["usage"]),
        origin=Origin(v["origin"]),
        protection_level=ProtectionLevel(v["protection_level"]),
        state=KeyState(v["state"]),
        created_at=v["created_at"],
        creator=v["creator"],
        description=v["description"],
        primary_version_id=v["primary_version_id"],
        last_rotation_at=v["last_rotation_at"],
        rotation_enabled=bool(v["rotation_enabled"]),
        rotation_interval=v["rotation_interval"],
        delete_at=v["delete_at"],
        material_expire_at=v["material_expire_at"],
        deletion_protection=bool(v["deletion_protection"]),
        deletion_protection_description=v["deletion_protection_description"],
        policy=v["policy"],
        key_store_id=v["key_store_id"],
        material_fingerprint=bytes(v["material_fingerprint"]) if v["material_fingerprint"] is not None else None,
    )


def hand_key_params(k: Key) -> dict[str, Any]:
    return {
        "id": k.id,
        "account_uid": k.account_uid,
        "region": k.region,
        "spec": k.spec,
        "usage": k.usage.value,
        "origin": k.origin.value,
        "protection_level": k.protection_level.value,
        "state": k.state.value,
        "created_at": k.created_at,
        "creator": k.creator,
        "description": k.description,
        "primary_version_id": k.primary_version_id,
        "last_rotation_at": k.last_rotation_at,
        "rotation_enabled": k.rotation_enabled,
        "rotation_interval": k.rotation_interval,
        "delete_at": k.delete_at,
        "material_expire_at": k.material_expire_at,
        "deletion_protection": k.deletion_protection,
        "deletion_protection_description": k.deletion_protection_description,
        "policy": k.policy,
        "key_store_id": k.key_store_id,
        "material_fingerprint": k.material_fingerprint,
    }


def hand_version(r: Sequence[Any]) -> KeyVersion:
    return KeyVersion(r[0], r[1], r[2], bytes(r[3]), bytes(r[4]) if r[4] is not None else None)


def hand_access_key(r: Sequence[Any]) -> AccessKey:
    return AccessKey(r[0], r[1], bytes(r[2]), AccessKeyStatus(r[3]), r[4], r[5])


# --- rows as sqlite3 returns them (booleans as 0/1) ----------------------------------------------

KID, VID = "00000000-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000001"
UID, T0 = "1" * 16, 1_700_000_000
KEY_ROW = (KID, UID, "cn-hangzhou", "Aliyun_AES_256", "ENCRYPT/DECRYPT", "Aliyun_KMS", "SOFTWARE", "Enabled", T0, UID,
           "a key", VID, T0, 1, 2_592_000, None, None, 0, "", None, "", None)  # fmt: skip
VERSION_ROW = (VID, KID, T0, b"\x01" * 61, None)
ACCESS_KEY_ROW = ("LTAI00000000000000000001", UID, b"\x02" * 60, "Enabled", T0, "")


def cases(rows: int) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """name -> (hand-written, derived), each mapping ``rows`` rows."""
    keys, versions, aks = [KEY_ROW] * rows, [VERSION_ROW] * rows, [ACCESS_KEY_ROW] * rows
    objects = [KEY.from_row(KEY_ROW)] * rows
    triples = [(ACCESS_KEY_ROW, KEY_ROW, VERSION_ROW)] * rows
    assert hand_key(KEY_ROW) == KEY.from_row(KEY_ROW)
    assert hand_key_params(objects[0]) == KEY.to_params(objects[0])
    assert hand_version(VERSION_ROW) == VERSION.from_row(VERSION_ROW)
    assert hand_access_key(ACCESS_KEY_ROW) == ACCESS_KEY.from_row(ACCESS_KEY_ROW)
    return {
        "Key from row": (lambda: [hand_key(r) for r in keys], lambda: [KEY.from_row(r) for r in keys]),
        "KeyVersion from row": (
            lambda: [hand_version(r) for r in versions],
            lambda: [VERSION.from_row(r) for r in versions],
        ),
        "AccessKey from row": (
            lambda: [hand_access_key(r) for r in aks],
            lambda: [ACCESS_KEY.from_row(r) for r in aks],
        ),
        "Key to parameters": (
            lambda: [hand_key_params(k) for k in objects],
            lambda: [KEY.to_params(k) for k in objects],
        ),
        "Encrypt's three rows": (
            lambda: [(hand_access_key(a), hand_key(k), hand_version(v)) for a, k, v in triples],
            lambda: [(ACCESS_KEY.from_row(a), KEY.from_row(k), VERSION.from_row(v)) for a, k, v in triples],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text()[:14]
    print(f"{args.rows} rows per case, fastest of {args.rounds} rounds (CPU time); load average {load}")
    print(f"{'case':22} {'hand-written':>22} {'derived':>22} {'ratio':>6}")
    for name, (hand, derived) in cases(args.rows).items():
        times: dict[str, list[float]] = {"hand": [], "derived": []}
        for n in range(args.rounds):
            turns = [("hand", hand), ("derived", derived)]
            for kind, fn in turns if n % 2 == 0 else reversed(turns):  # either goes first in turn
                times[kind].append(timeit.timeit(fn, number=1, timer=time.process_time))
        h, d = min(times["hand"]), min(times["derived"])
        ns = 1e9 / args.rows
        print(f"{name:22} {h * 1e3:8.1f} ms {h * ns:6.0f} ns/row {d * 1e3:8.1f} ms {d * ns:6.0f} ns/row {d / h:6.2f}")


if __name__ == "__main__":
    main()
