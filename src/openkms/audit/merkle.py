"""RFC 6962 Merkle tree hashing, kept as a compact range: the roots of the perfect subtrees that
make up a tree of any size, left to right, so that appending a leaf and computing the root cost
O(log n) and a checkpoint can carry the whole state (``Frontier.hashes``).

Leaf hash: SHA-256(0x00 || entry); node hash: SHA-256(0x01 || left || right); the empty tree's
root is SHA-256 of nothing. Here an entry is one line of a segment without its newline.
"""

from __future__ import annotations

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _sizes(tree_size: int) -> list[int]:
    """The sizes of the perfect subtrees of a tree of ``tree_size`` leaves, largest first."""
    return [1 << bit for bit in range(tree_size.bit_length() - 1, -1, -1) if tree_size >> bit & 1]


class Frontier:
    """An append-only Merkle tree, remembered by its compact range."""

    def __init__(self, tree_size: int = 0, hashes: list[bytes] | None = None) -> None:
        self._sizes = _sizes(tree_size)
        self._hashes = list(hashes or [])
        if len(self._hashes) != len(self._sizes):
            raise ValueError(f"a tree of {tree_size} leaves has {len(self._sizes)} subtree roots")
        self.size = tree_size

    @property
    def hashes(self) -> list[bytes]:
        return list(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash (``leaf_hash(entry)``)."""
        sizes, hashes = self._sizes, self._hashes
        sizes.append(1)
        hashes.append(leaf)
        while len(sizes) > 1 and sizes[-1] == sizes[-2]:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            sizes.pop()
            sizes[-1] *= 2
        self.size += 1

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root
