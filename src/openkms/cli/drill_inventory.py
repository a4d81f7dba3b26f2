"""What the restore drill records on the live node before the backup, through the API: every key
(state, versions), alias and secret version of the account it signs as, and canaries made with
each usable key. Secret values and canary plaintexts are kept as SHA-256 digests only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openkms.cli.drill_pg import DrillError
from openkms.cli.remote import RemoteClient, RemoteError

PAGE = "100"
# A spec's algorithm for each asymmetric usage (Alibaba's names).
# RSA: OAEP with SHA-256, else with SHA-1 (all SoftHSM2 does in a token).
_OAEP = ("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1")
ENCRYPT_ALGORITHMS = {"RSA_2048": _OAEP, "RSA_3072": _OAEP, "EC_SM2": ("SM2PKE",)}
SIGN_ALGORITHMS = {
    "RSA_2048": "RSA_PSS_SHA_256",
    "RSA_3072": "RSA_PSS_SHA_256",
    "EC_P256": "ECDSA_SHA_256",
    "EC_P256K": "ECDSA_SHA_256",
    "EC_SM2": "SM2DSA",
}


def digest(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    state: str
    spec: str
    usage: str
    primary: str
    versions: frozenset[str]


@dataclass(frozen=True)
class Canary:
    """One operation to repeat on the restored node. ``expect`` is a digest (of a plaintext) or,
    for a signature, the signature itself (public data)."""

    kind: str  # decrypt | asymmetric-decrypt | verify
    key_id: str
    params: dict[str, str] = field(repr=False)
    expect: str = field(repr=False)
    source: str = "canary"  # or the file it was read from


@dataclass
class Inventory:
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias name -> key id
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, version) -> digest or error code
    canaries: list[Canary] = field(default_factory=list)

    @property
    def version_count(self) -> int:
        return sum(len(k.versions) for k in self.keys.values())


def call(client: RemoteClient, action: str, **params: str) -> dict[str, Any]:
    """One API call; a node that cannot be reached is a DrillError, an API refusal a RemoteError."""
    try:
        return client.call(action, **params)
    except OSError as exc:  # urllib's URLError and a reset connection alike
        raise DrillError(f"{action}: cannot reach {client.url}: {getattr(exc, 'reason', exc)}") from None


def pages(client: RemoteClient, action: str, outer: str, inner: str, **params: str) -> Iterator[dict[str, Any]]:
    number = 1
    while True:
        answer = call(client, action, PageNumber=str(number), PageSize=PAGE, **params)
        rows: list[dict[str, Any]] = answer.get(outer, {}).get(inner, [])
        yield from rows
        if not rows or number * int(PAGE) >= int(answer.get("TotalCount", 0)):
            return
        number += 1


def key_record(client: RemoteClient, key_id: str) -> KeyRecord:
    meta = call(client, "DescribeKey", KeyId=key_id)["KeyMetadata"]
    versions = {v["KeyVersionId"] for v in pages(client, "ListKeyVersions", "KeyVersions", "KeyVersion", KeyId=key_id)}
    return KeyRecord(
        key_id,
        str(meta.get("KeyState")),
        str(meta.get("KeySpec")),
        str(meta.get("KeyUsage")),
        str(meta.get("PrimaryKeyVersion", "")),
        frozenset(versions),
    )


def secret_values(client: RemoteClient) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for secret in pages(client, "ListSecrets", "SecretList", "Secret"):
        name = secret["SecretName"]
        ids = pages(
            client, "ListSecretVersionIds", "VersionIds", "VersionId", SecretName=name, IncludeDeprecated="true"
        )
        for version in ids:
            vid = version["VersionId"]
            try:
                value = call(client, "GetSecretValue", SecretName=name, VersionId=vid)
                found[(name, vid)] = digest(str(value.get("SecretDataType")) + ":" + str(value.get("SecretData")))
            except RemoteError as exc:  # a secret pending deletion answers with a refusal: it must still
                found[(name, vid)] = f"refused {exc.code}"
    return found


def take(client: RemoteClient) -> Inventory:
    inv = Inventory()
    for row in pages(client, "ListKeys", "Keys", "Key"):
        inv.keys[row["KeyId"]] = key_record(client, row["KeyId"])
    inv.aliases = {a["AliasName"]: a["KeyId"] for a in pages(client, "ListAliases", "Aliases", "Alias")}
    inv.secrets = secret_values(client)
    return inv


def make_canaries(client: RemoteClient, inv: Inventory) -> None:
    """For each enabled key whose usage allows it, with a random plaintext or digest each time:
    a symmetric key encrypts under its primary version, an asymmetric key under every version."""
    for key in inv.keys.values():
        if key.state != "Enabled":
            continue
        if key.usage == "ENCRYPT/DECRYPT" and key.spec.startswith("Aliyun_"):
            text = os.urandom(32).hex()
            blob = call(client, "Encrypt", KeyId=key.key_id, Plaintext=text)["CiphertextBlob"]
            inv.canaries.append(Canary("decrypt", key.key_id, {"CiphertextBlob": blob}, digest(text)))
        else:
            inv.canaries.extend(_asymmetric(client, key, version) for version in sorted(key.versions))


def _asymmetric(client: RemoteClient, key: KeyRecord, version: str) -> Canary:
    secret = os.urandom(32)
    if key.usage == "ENCRYPT/DECRYPT" and key.spec in ENCRYPT_ALGORITHMS:
        return _encrypted(client, key, version, base64.b64encode(secret).decode())
    if key.usage == "SIGN/VERIFY" and key.spec in SIGN_ALGORITHMS:
        params = {"KeyId": key.key_id, "KeyVersionId": version, "Algorithm": SIGN_ALGORITHMS[key.spec]}
        params["Digest"] = base64.b64encode(hashlib.sha256(secret).digest()).decode()
        return Canary("verify", key.key_id, params, call(client, "AsymmetricSign", **params)["Value"])
    raise DrillError(f"key {key.key_id}: no canary for a {key.spec} key with usage {key.usage}")


def _encrypted(client: RemoteClient, key: KeyRecord, version: str, plain: str) -> Canary:
    """An AsymmetricEncrypt canary with the first algorithm whose ciphertext the live node can
    decrypt: encryption is the public key's, decryption the key store's (SoftHSM2 does OAEP with
    SHA-1 only), so a canary is kept only once it has opened before the backup."""
    algorithms = ENCRYPT_ALGORITHMS[key.spec]
    for number, algorithm in enumerate(algorithms, 1):
        params = {"KeyId": key.key_id, "KeyVersionId": version, "Algorithm": algorithm}
        try:
            blob = call(client, "AsymmetricEncrypt", Plaintext=plain, **params)["CiphertextBlob"]
            call(client, "AsymmetricDecrypt", CiphertextBlob=blob, **params)
        except RemoteError as exc:
            if number < len(algorithms) and exc.status == 400:
                continue  # this store does not do it: the next one
            raise
        return Canary("asymmetric-decrypt", key.key_id, {**params, "CiphertextBlob": blob}, digest(plain))
    raise DrillError(f"key {key.key_id}: no encryption algorithm for {key.spec}")


def read_ciphertexts(path: Path) -> list[Canary]:
    """The operator's own old ciphertexts: JSON lines of {"CiphertextBlob", "PlaintextSha256"} and,
    when one was used, "EncryptionContext" (an object). Plaintexts never go in the file."""
    found: list[Canary] = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise DrillError(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            params = {"CiphertextBlob": str(row["CiphertextBlob"])}
            if row.get("EncryptionContext"):
                params["EncryptionContext"] = json.dumps(row["EncryptionContext"])
            found.append(Canary("decrypt", str(row.get("KeyId", "")), params, str(row["PlaintextSha256"]), path.name))
        except (ValueError, KeyError, TypeError):
            raise DrillError(
                f"{path}:{number}: expected a JSON object with CiphertextBlob and PlaintextSha256"
            ) from None
    return found
