"""``openkms serve --config FILE``: a custom region catalogue and default region, applied in every
worker process; a configuration that cannot work stops the command with a clear message."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e import raw
from tests.e2e.clients import MODES, ApiError, Kms
from tests.servers import process_server, run_openkms

CATALOGUE = """
[regions]
default = "eu-central-1"

[[regions.region]]
id = "eu-central-1"
mainland_china = false
name = "Frankfurt"

[[regions.region]]
id = "cn-wulanchabu"
mainland_china = true
"""


def test_region_catalogue_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text(CATALOGUE)
    with process_server(tmp_path / "data", "--config", str(config), workers=2) as srv:
        admin = srv.admin()
        ak, secret = admin["AccessKeyId"], admin["AccessKeySecret"]
        for mode in MODES:
            regions = Kms(mode, srv.endpoint, ak, secret, "eu-central-1").call("DescribeRegions")
            assert regions["Regions"]["Region"] == [{"RegionId": "eu-central-1"}, {"RegionId": "cn-wulanchabu"}]

        # The new SDK names no region: the configured default applies.
        kms = Kms("new-v3", srv.endpoint, ak, secret)
        assert kms.call("CreateKey")["KeyMetadata"]["Arn"].startswith(f"acs:kms:eu-central-1:{admin['AccountId']}:")
        with pytest.raises(ApiError) as err:  # SM4 only in mainland China regions, as catalogued
            kms.call("CreateKey", KeySpec="Aliyun_SM4")
        assert (err.value.status, err.value.code) == (400, "Unsupported.KeySpec")
        sm4 = Kms("old", srv.endpoint, ak, secret, "cn-wulanchabu").call("CreateKey", KeySpec="Aliyun_SM4")
        assert sm4["KeyMetadata"]["Arn"].startswith("acs:kms:cn-wulanchabu:")
        with pytest.raises(ApiError) as err:  # a default region that this catalogue does not have
            Kms("old", srv.endpoint, ak, secret, "cn-hangzhou").call("ListKeys")
        assert (err.value.status, err.value.code) == (400, "InvalidRegionId")

        # Both worker processes read the same file.
        held = raw.connections_by_worker(srv, 1)
        try:
            for (conn,) in held.values():
                status, data = raw.post(conn, raw.signed_body(ak, secret, "DescribeRegions"))
                assert status == 200
                assert [r["RegionId"] for r in data["Regions"]["Region"]] == ["eu-central-1", "cn-wulanchabu"]
        finally:
            raw.close_all(held)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server\nport = 1", "cannot read config file"),
        ('[server]\nport = "eighty"', "[server] port must be an integer, not 'eighty'"),
    ],
)
def test_invalid_config_stops_serve_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    # (tests/unit/cli runs the whole table of bad settings through the same code, in-process)
    config = tmp_path / "openkms.toml"
    config.write_text(text)
    result = run_openkms("serve", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert result.stderr.startswith("openkms: configuration error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()  # nothing was created


def test_port_in_use_stops_serve_with_a_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_openkms("serve", "--data-dir", str(tmp_path / "data"), "--port", str(port))
    assert result.returncode != 0
    assert "address already in use" in result.stderr.lower()
    assert "Traceback" not in result.stderr
