"""``[[keystores]] kind``: picks the factory that builds the store's backend (openkms/keystores.py).
Without it an entry is a PKCS#11 token, as before (an unknown kind is a configuration error:
test_configuration_errors.py); a registered kind is all a new kind of key store needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from openkms import bootstrap, keystores
from openkms.domain.algorithms import Capabilities
from openkms.domain.specs import ProtectionLevel
from openkms.settings import KeyStoreSettings, Settings
from openkms.system import ManualClock

ENTRY = '[[keystores]]\nid = "kst-1"\nmodule = "/usr/lib/libpkcs11.so"\ntoken_label = "t"\npin_env = "KST_PIN"\n'


@pytest.fixture(autouse=True)
def no_openkms_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPENKMS_"):
            monkeypatch.delenv(name)


def load(tmp_path: Path, toml: str) -> Settings:
    config = tmp_path / "openkms.toml"
    config.write_text(toml)
    return Settings.load(env={}, config_file=config, data_dir=tmp_path / "data")


def test_an_entry_without_a_kind_is_a_pkcs11_token(tmp_path: Path) -> None:
    (store,) = load(tmp_path, ENTRY).keystores
    assert store.kind == "pkcs11"
    (named,) = load(tmp_path, ENTRY + 'kind = "pkcs11"\n').keystores
    assert named == store


class Opened:
    """A backend of the registered test kind: answers random_bytes, records what opened it."""

    def __init__(self, ks: KeyStoreSettings) -> None:
        self.settings = ks
        self.closed = False

    def random_bytes(self, n: int) -> bytes:
        return b"k" * n

    def close(self) -> None:
        self.closed = True


def test_a_registered_kind_builds_the_store_from_its_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Opened] = []

    def factory(ks: KeyStoreSettings) -> Any:
        opened.append(Opened(ks))
        return opened[-1]

    gaps = Capabilities(specs={"EC_SM2": "not in this kind"})
    monkeypatch.setitem(keystores.KINDS, "test-kind", keystores.KeyStoreKind(factory, gaps))
    entry = KeyStoreSettings("kst-t", "", "", pin_env="X", description="a test store", kind="test-kind")
    settings = Settings(auto_softhsm=False, keystores=(entry,))
    stores = bootstrap.key_stores(settings, None, None, ManualClock(0.0))  # type: ignore[arg-type]
    store = next(s for s in stores if s.id == "kst-t")
    assert (store.protection_level, store.description, store.inventory) == (
        ProtectionLevel.HSM,
        "a test store",
        store.backend,
    )
    assert store.backend is not None
    assert store.backend.capabilities() is gaps
    assert opened == []  # opened on first use
    assert store.backend.random_bytes(3) == b"kkk"
    assert [o.settings for o in opened] == [entry]
    store.backend.close()
    assert opened[0].closed
