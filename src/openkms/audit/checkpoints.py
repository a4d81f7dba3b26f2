"""Checkpoints: a signed statement of a chain's state, sealed every N events or T seconds.

A checkpoint is a small canonical JSON document (keys sorted, no spaces, one trailing newline)
in ``<chain>/checkpoints/<n>.json``, with its Ed25519 signature over exactly those bytes in
``<n>.sig`` (64 raw bytes), so ``openssl pkeyutl -verify -rawin`` checks it::

    {"chain":"node-0","checkpoint":7,"frontier":["<hex>",...],"keyFingerprint":"sha256:<hex>",
     "lastLineHash":"<hex>","previousSignature":"<hex>","rootHash":"<hex>",
     "segment":{"bytes":1234,"firstSeq":0,"name":"00000000000000000000.jsonl","sealed":false,
                "sha256":"<hex>"},
     "time":"2026-12-01T08:30:00Z","treeSize":42,"version":1}

- ``treeSize`` events of the chain (seq 0 to treeSize-1) are covered; ``rootHash`` is their RFC
  6962 Merkle root and ``frontier`` its compact range (``merkle.Frontier``), from which the tree
  goes on after older segments were deleted; ``lastLineHash`` is the SHA-256 of line treeSize-1
  (the next line's ``prev``).
- ``segment``: the segment holding the newest covered line; ``sha256`` is the hash of its first
  ``bytes`` bytes, which are exactly the lines up to treeSize. ``sealed`` true: the segment is
  closed and ``bytes`` is its whole size, so ``sha256sum`` of the file gives ``sha256``.
- ``previousSignature``: the hex signature of checkpoint n-1 ("" for the first): the checkpoints
  form a chain of their own, like CloudTrail's digests.
- ``retention`` (only on a checkpoint sealed right after a retention run): segments and older
  checkpoints were deleted on purpose: ``firstCheckpoint`` is the oldest checkpoint kept (with its
  hex signature, ``firstCheckpointSignature``), ``firstSeq`` the first line kept, ``deleted`` the
  deleted segments' names and SHA-256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openkms.audit.files import CHECKPOINTS, checkpoint_name, write_atomically
from openkms.audit.keys import AuditKeys

VERSION = 1


@dataclass(frozen=True)
class SegmentMark:
    name: str
    first_seq: int
    bytes: int
    sha256: str
    sealed: bool = False

    def doc(self) -> dict[str, Any]:
        return {
            "bytes": self.bytes,
            "firstSeq": self.first_seq,
            "name": self.name,
            "sealed": self.sealed,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Retention:
    first_checkpoint: int
    first_checkpoint_signature: str
    first_seq: int
    deleted: tuple[tuple[str, str], ...]  # (segment name, sha256)

    def doc(self) -> dict[str, Any]:
        return {
            "deleted": [{"name": n, "sha256": h} for n, h in self.deleted],
            "firstCheckpoint": self.first_checkpoint,
            "firstCheckpointSignature": self.first_checkpoint_signature,
            "firstSeq": self.first_seq,
        }


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    index: int
    tree_size: int
    root: str
    frontier: tuple[str, ...]
    last_line_hash: str
    segment: SegmentMark
    time: str
    previous_signature: str
    key_fingerprint: str
    retention: Retention | None = None

    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "chain": self.chain,
            "checkpoint": self.index,
            "frontier": list(self.frontier),
            "keyFingerprint": self.key_fingerprint,
            "lastLineHash": self.last_line_hash,
            "previousSignature": self.previous_signature,
            "rootHash": self.root,
            "segment": self.segment.doc(),
            "time": self.time,
            "treeSize": self.tree_size,
            "version": VERSION,
        }
        if self.retention is not None:
            doc["retention"] = self.retention.doc()
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        """Raises ValueError for anything that is not a checkpoint of this version."""
        try:
            doc = json.loads(data)
            if doc["version"] != VERSION:
                raise ValueError(f"unknown checkpoint version {doc['version']!r}")
            seg, ret = doc["segment"], doc.get("retention")
            retention = None
            if ret is not None:
                deleted = tuple((str(d["name"]), str(d["sha256"])) for d in ret["deleted"])
                retention = Retention(
                    int(ret["firstCheckpoint"]), str(ret["firstCheckpointSignature"]), int(ret["firstSeq"]), deleted
                )
            return cls(
                chain=str(doc["chain"]),
                index=int(doc["checkpoint"]),
                tree_size=int(doc["treeSize"]),
                root=str(doc["rootHash"]),
                frontier=tuple(str(h) for h in doc["frontier"]),
                last_line_hash=str(doc["lastLineHash"]),
                segment=SegmentMark(
                    str(seg["name"]), int(seg["firstSeq"]), int(seg["bytes"]), str(seg["sha256"]), bool(seg["sealed"])
                ),
                time=str(doc["time"]),
                previous_signature=str(doc["previousSignature"]),
                key_fingerprint=str(doc["keyFingerprint"]),
                retention=retention,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a checkpoint: {exc!r}") from None


def signature_path(json_path: Path) -> Path:
    return json_path.with_suffix(".sig")


def write_checkpoint(chain_dir: Path, checkpoint: Checkpoint, keys: AuditKeys) -> bytes:
    """Sign and write ``checkpoint``; returns its signature. The signature file is written first:
    a checkpoint exists once its document does, and then it has its signature."""
    where = chain_dir / CHECKPOINTS
    where.mkdir(mode=0o700, exist_ok=True)
    data = checkpoint.to_bytes()
    signature = keys.sign(data)
    path = where / checkpoint_name(checkpoint.index)
    write_atomically(signature_path(path), signature)
    write_atomically(path, data)
    return signature


def read_checkpoint(path: Path) -> tuple[Checkpoint, bytes, bytes]:
    """(checkpoint, its bytes, its signature); ValueError or OSError when it cannot be read."""
    data = path.read_bytes()
    signature = signature_path(path).read_bytes()
    return Checkpoint.from_bytes(data), data, signature
