"""``--deterministic SEED``: two dev servers given the same seed and the same calls make the same
KeyIds, version ids and material (a ciphertext of one decrypts on the other), while IVs stay
random; another seed makes others; a reset starts the ids again; the start says so loudly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.testing import OpenKms
from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error
from tests.servers import process_server


def sdk(kit: OpenKms) -> Kms:
    return Kms("new-v3", kit.endpoint, kit.access_key_id, kit.access_key_secret, kit.region_id)


def made(kms: Kms) -> list[tuple[str, str]]:
    """The same calls on every server: (KeyId, primary version id) of each key they make."""
    out = []
    for spec in ("Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_AES_256"):
        meta = kms.call("CreateKey", KeySpec=spec)["KeyMetadata"]
        out.append((meta["KeyId"], meta["PrimaryKeyVersion"]))
    return out


@pytest.fixture
def twins() -> Iterator[tuple[OpenKms, OpenKms]]:
    with OpenKms(deterministic="seed-a") as one, OpenKms(deterministic="seed-a") as two:
        yield one, two


def test_the_same_seed_and_calls_give_the_same_keys(twins: tuple[OpenKms, OpenKms]) -> None:
    one, two = (sdk(k) for k in twins)
    first, second = made(one), made(two)
    assert first == second
    assert len({key_id for key_id, _ in first}) == 3
    blob = one.call("Encrypt", KeyId=first[0][0], Plaintext="made on one")["CiphertextBlob"]
    assert two.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "made on one"
    # IVs stay random: the same plaintext under the same key encrypts differently each time.
    again = one.call("Encrypt", KeyId=first[0][0], Plaintext="made on one")["CiphertextBlob"]
    assert again != blob


def test_a_reset_starts_the_ids_again(twins: tuple[OpenKms, OpenKms]) -> None:
    one, _ = twins
    kms = sdk(one)
    first = made(kms)
    one.reset()
    assert made(kms) == first


def test_another_seed_gives_other_keys(twins: tuple[OpenKms, OpenKms]) -> None:
    with OpenKms(deterministic="seed-b") as other:
        theirs = made(sdk(other))
        ours = made(sdk(twins[0]))
        assert {k for k, _ in theirs}.isdisjoint(k for k, _ in ours)
        blob = sdk(other).call("Encrypt", KeyId=theirs[0][0], Plaintext="x")["CiphertextBlob"]
    # The blob's version id names no version of this server.
    expect_error(404, "Forbidden.KeyNotFound", sdk(twins[0]), "Decrypt", CiphertextBlob=blob)


def test_without_a_seed_ids_are_random() -> None:
    with OpenKms() as one, OpenKms() as two:
        assert {k for k, _ in made(sdk(one))}.isdisjoint(k for k, _ in made(sdk(two)))


def test_the_start_says_so_loudly(tmp_path: Path) -> None:
    with process_server(tmp_path / "data", "--dev", "--no-tls", "--deterministic", "loud") as srv:
        assert "*** DETERMINISTIC MODE ***" in srv.stdout()
        assert "IVs and nonces stay random" in srv.stdout()
