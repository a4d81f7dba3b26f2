"""GET /readyz: 200 while the database answers with the schema this code expects and every key
store answers; 503 with a JSON reason otherwise (while /healthz, "alive", may still say 200)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory

from openkms.settings import KeyStoreSettings
from openkms.storage import migrate
from tests.hsm_support import requires_softhsm, shared_token
from tests.servers import _hsm_settings, inprocess_server


def set_schema(data_dir: Path, revision: str) -> None:
    with contextlib.closing(sqlite3.connect(data_dir / "openkms.sqlite3")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        conn.commit()


def test_a_node_is_ready_and_not_when_its_schema_is_older_than_the_code(tmp_path: Path) -> None:
    head = migrate.head_revision()
    assert head is not None
    older = ScriptDirectory.from_config(migrate._config()).get_revision(head).down_revision
    assert isinstance(older, str)
    with inprocess_server(tmp_path / "data") as srv:
        ready = httpx.get(f"{srv.base_url}/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        set_schema(srv.data_dir, older)  # a restore of an older backup under a running node
        refused = httpx.get(f"{srv.base_url}/readyz")
        assert refused.status_code == 503
        assert refused.json() == {
            "status": "not-ready",
            "failing": [
                {"component": "schema", "reason": f"the database schema is at {older}, the code expects {head}"}
            ],
        }
        assert httpx.get(f"{srv.base_url}/healthz").status_code == 200  # alive, only not ready
        set_schema(srv.data_dir, head)
        assert httpx.get(f"{srv.base_url}/readyz").status_code == 200


@requires_softhsm
def test_a_node_whose_key_store_token_is_gone_is_not_ready(tmp_path: Path) -> None:
    token = shared_token()
    gone = KeyStoreSettings(  # the token this store names is not in the slot list (removed)
        id="kst-gone",
        module=token.module_path,
        token_label="openkms-removed-token",
        pin_env="OPENKMS_TEST_HSM_PIN",
        softhsm2_conf=token.softhsm2_conf,
    )
    keystores = (*_hsm_settings()["keystores"], gone)
    with inprocess_server(tmp_path / "data", keystores=keystores) as srv:
        refused = httpx.get(f"{srv.base_url}/readyz")
        assert refused.status_code == 503
        (failure,) = refused.json()["failing"]
        assert (failure["component"], failure["keyStore"]) == ("key-store", "kst-gone")
        assert failure["reason"] == (
            "HSM key store: The key store kst-gone is unreachable: Service Unavailable Temporary. "
            "The PKCS#11 token 'openkms-removed-token' is not present."
        )
        assert token.pin not in refused.text
        metrics = httpx.get(f"{srv.base_url}/metrics").text
        assert 'openkms_key_store_up{key_store="kst-gone",protection_level="HSM"} 0.0' in metrics
        assert 'openkms_key_store_up{key_store="kst-softhsm-test",protection_level="HSM"} 1.0' in metrics
        assert httpx.get(f"{srv.base_url}/healthz").status_code == 200  # the other stores serve
