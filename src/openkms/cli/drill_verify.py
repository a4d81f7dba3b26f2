"""What the restore drill proves on the node started on the restored database: everything recorded
before the backup is there, every canary and old ciphertext opens, and what must be refused is."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, replace

from openkms.cli.drill_inventory import Canary, Inventory, KeyRecord, call, digest, key_record, pages, secret_values
from openkms.cli.remote import RemoteClient, RemoteError


@dataclass(frozen=True)
class Check:
    name: str
    failures: tuple[str, ...]  # empty: passed
    detail: str = ""


def _key(client: RemoteClient, before: KeyRecord) -> str | None:
    """What is wrong with one key on the restored node, or None."""
    try:
        after = key_record(client, before.key_id)
    except RemoteError as exc:
        if exc.code == "Forbidden.KeyNotFound" and before.state == "PendingDeletion":
            return None  # its deletion came due, and the restored node's scheduler purged it
        return f"{before.key_id}: {exc.code}"
    if after.state != before.state:
        return f"{before.key_id}: state {after.state}, was {before.state}"
    if not before.versions <= after.versions:
        return f"{before.key_id}: versions missing: {sorted(before.versions - after.versions)}"
    return None


def keys(client: RemoteClient, inv: Inventory) -> Check:
    wrong = tuple(w for k in inv.keys.values() if (w := _key(client, k)) is not None)
    return Check("keys and versions", wrong, f"{len(inv.keys)} keys, {inv.version_count} versions")


def aliases(client: RemoteClient, inv: Inventory) -> Check:
    after = {a["AliasName"]: a["KeyId"] for a in pages(client, "ListAliases", "Aliases", "Alias")}
    wrong = tuple(
        f"{name}: {after.get(name, 'missing')}, was {key}"
        for name, key in inv.aliases.items()
        if after.get(name) != key
    )
    return Check("aliases", wrong, f"{len(inv.aliases)} aliases")


def secrets(client: RemoteClient, inv: Inventory) -> Check:
    after = secret_values(client)
    wrong = tuple(
        f"secret {name} version {vid}: " + ("missing" if vid_after is None else "value differs")
        for (name, vid), value in inv.secrets.items()
        if (vid_after := after.get((name, vid))) != value
    )
    return Check("secret versions (values compared by SHA-256)", wrong, f"{len(inv.secrets)} versions")


def _open(client: RemoteClient, canary: Canary) -> str | None:
    """What is wrong with one canary on the restored node, or None."""
    try:
        if canary.kind == "decrypt":
            plain = call(client, "Decrypt", **canary.params)["Plaintext"]
            return None if digest(plain) == canary.expect else "decrypts to another plaintext"
        if canary.kind == "asymmetric-decrypt":
            plain = call(client, "AsymmetricDecrypt", **canary.params)["Plaintext"]
            return None if digest(plain) == canary.expect else "decrypts to another plaintext"
        old = call(client, "AsymmetricVerify", Value=canary.expect, **canary.params)["Value"]
        fresh = call(client, "AsymmetricSign", **canary.params)["Value"]
        again = call(client, "AsymmetricVerify", Value=fresh, **canary.params)["Value"]
        return None if old is True and again is True else "a signature does not verify"
    except RemoteError as exc:
        return f"{exc.code} (HTTP {exc.status})"


def canaries(client: RemoteClient, found: list[Canary], source: str) -> Check:
    wrong = []
    for number, canary in enumerate(found, 1):
        if (what := _open(client, canary)) is not None:
            wrong.append(
                f"{canary.source} #{number} ({canary.kind}{', key ' + canary.key_id if canary.key_id else ''}): {what}"
            )
    return Check(source, tuple(wrong), f"{len(found)} of {len(found)} opened" if not wrong else "")


def _refused(what: str, expected: tuple[int, str], attempt: Callable[[], object]) -> str | None:
    try:
        attempt()
    except RemoteError as exc:
        return (
            None
            if (exc.status, exc.code) == expected
            else f"{what}: {exc.code} (HTTP {exc.status}), expected {expected[1]}"
        )
    return f"{what}: accepted, expected {expected[1]}"


def _tampered(blob: str) -> str:
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01  # inside the authentication tag: a flipped bit must not open
    return base64.b64encode(bytes(raw)).decode()


def refusals(client: RemoteClient, inv: Inventory) -> Check:
    """Whatever the live node refused, the restored one refuses too: a tampered ciphertext, a
    request signed with the wrong secret, a disabled key, a key pending deletion."""
    attempts: list[tuple[str, tuple[int, str], Callable[[], object]]] = []
    blob = next((c.params["CiphertextBlob"] for c in inv.canaries if c.kind == "decrypt"), None)
    if blob is not None:
        bad = _tampered(blob)
        attempts.append(
            ("a tampered ciphertext", (400, "InvalidParameter"), lambda: call(client, "Decrypt", CiphertextBlob=bad))
        )
    impostor = replace(client, secret=client.secret[::-1] + "x")
    attempts.append(("a wrong AccessKey secret", (400, "SignatureDoesNotMatch"), lambda: call(impostor, "ListKeys")))
    for state, code in (("Disabled", "Rejected.Disabled"), ("PendingDeletion", "Rejected.PendingDeletion")):
        key = next((k for k in inv.keys.values() if k.state == state and _symmetric(k)), None)
        if key is not None:
            attempts.append((f"Encrypt with {state} key {key.key_id}", (409, code), _encrypt(client, key.key_id)))
    wrong = tuple(w for what, expected, attempt in attempts if (w := _refused(what, expected, attempt)) is not None)
    return Check("refusals", wrong, "; ".join(what for what, _, _ in attempts))


def _symmetric(key: KeyRecord) -> bool:
    return key.usage == "ENCRYPT/DECRYPT" and key.spec.startswith("Aliyun_")


def _encrypt(client: RemoteClient, key_id: str) -> Callable[[], object]:
    return lambda: call(client, "Encrypt", KeyId=key_id, Plaintext="restore drill")
