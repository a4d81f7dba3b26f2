"""The compact range gives RFC 6962's root for every size, and survives being written down."""

from __future__ import annotations

import hashlib

from openkms.audit.merkle import EMPTY_ROOT, Frontier, leaf_hash, node_hash


def mth(entries: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, as written."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return leaf_hash(entries[0])
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return node_hash(mth(entries[:k]), mth(entries[k:]))


def test_roots_agree_with_the_definition() -> None:
    entries = [f"line {i}".encode() for i in range(70)]
    tree = Frontier()
    assert tree.root() == EMPTY_ROOT
    for n, entry in enumerate(entries, 1):
        tree.append(leaf_hash(entry))
        assert tree.size == n
        assert tree.root() == mth(entries[:n])


def test_a_tree_resumes_from_its_written_hashes() -> None:
    entries = [bytes([i]) for i in range(45)]
    tree = Frontier()
    for entry in entries[:21]:
        tree.append(leaf_hash(entry))
    again = Frontier(21, tree.hashes)
    for entry in entries[21:]:
        again.append(leaf_hash(entry))
    assert again.root() == mth(entries)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    # The RFC 6962 test vector: the empty tree, and a leaf of the empty string.
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
