"""What ``openkms serve`` writes: the operator's one-time notice on stdout, a log on stderr that
never holds a plaintext, a data key, an AccessKey secret or the root key, even at debug level and
even for requests that fail."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e import raw
from tests.e2e.clients import MODES, ApiError, Kms
from tests.servers import process_server, run_openkms


def test_the_log_holds_no_secret_and_no_plaintext(tmp_path: Path) -> None:
    data = tmp_path / "data"
    plaintext = f"TOPSECRET{uuid.uuid4().hex}"
    needles = {"plaintext": plaintext, "plaintext (base64)": base64.b64encode(plaintext.encode()).decode()}
    with process_server(data, env={"OPENKMS_LOG_LEVEL": "debug"}) as srv:
        admin = srv.admin()
        root_key = (data / "root.key").read_text().strip()
        needles |= {
            "admin secret": admin["AccessKeySecret"],
            "root key": root_key,
            "root key (hex)": base64.b64decode(root_key).hex(),
        }
        issued = json.loads(run_openkms("accesskey", "create", "--data-dir", str(data)).stdout)
        needles["issued secret"] = issued["AccessKeySecret"]

        for mode in MODES:
            for record in (admin, issued):
                kms = Kms(mode, srv.endpoint, record["AccessKeyId"], record["AccessKeySecret"])
                key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
                blob = kms.call("Encrypt", KeyId=key_id, Plaintext=plaintext, EncryptionContext={"k": plaintext})
                back = kms.call("Decrypt", CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"k": plaintext})
                assert back["Plaintext"] == plaintext
                data_key = kms.call("GenerateDataKey", KeyId=key_id, NumberOfBytes=32)["Plaintext"]
                needles[f"data key ({mode})"] = data_key
                with pytest.raises(ApiError):  # wrong context: a failed decryption
                    kms.call("Decrypt", CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"k": "other"})
            # A wrong secret: the error's string-to-sign (which holds the plaintext) goes to the caller only.
            with pytest.raises(ApiError) as err:
                Kms(mode, srv.endpoint, admin["AccessKeyId"], "wrong-secret").call(
                    "Encrypt", KeyId=key_id, Plaintext=plaintext
                )
            # (the old SDK renames a SignatureDoesNotMatch whose string-to-sign it agrees with)
            assert err.value.code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret")

        # GET with everything in the query string, and an unsigned request that is refused.
        body = raw.signed_body(
            admin["AccessKeyId"], admin["AccessKeySecret"], "Encrypt", "GET", KeyId=key_id, Plaintext=plaintext
        )
        assert httpx.get(f"{srv.base_url}/?{body.decode()}").status_code == 200
        query = urllib.parse.urlencode({"Action": "Encrypt", "KeyId": key_id, "Plaintext": plaintext})
        assert httpx.get(f"{srv.base_url}/?{query}").status_code in (400, 404)
        assert srv.stop() == 0

    log = srv.stderr()
    assert log.count("openkms.access") >= 30  # the requests were logged (debug level)
    leaked = {name for name, value in needles.items() if value in log}
    assert leaked == set()
    # stdout holds the administrator pair once, for the operator, and nothing else.
    out = srv.stdout()
    assert out.count(admin["AccessKeySecret"]) == 1
    assert {name for name, value in needles.items() if value in out} == {"admin secret"}

    with process_server(data) as again:
        assert again.stop() == 0
    assert again.stdout() == ""
    assert {name for name, value in needles.items() if value in again.log()} == set()


ACCESS_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO openkms\.access "
    r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12} (GET|POST) (\S+) (\d{3}) (\S+) "
    r"\d+\.\dms ak=(\S+) region=(\S+)"
)


@pytest.mark.parametrize("level", ["info", "warning"])
def test_one_access_line_per_request_unless_the_level_is_warning(tmp_path: Path, level: str) -> None:
    with process_server(tmp_path / "data", env={"OPENKMS_LOG_LEVEL": level}) as srv:
        admin = srv.admin()
        kms = Kms("new-v3", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        kms.call("DescribeRegions")
        with pytest.raises(ApiError):
            Kms("new-v3", srv.endpoint, admin["AccessKeyId"], "wrong-secret").call("DescribeRegions")
        assert srv.stop() == 0
    lines = [line for line in srv.stderr().splitlines() if "openkms.access" in line]
    if level == "warning":
        assert lines == []
        return
    found = [ACCESS_LINE.fullmatch(line) for line in lines]
    assert all(found), lines
    said = [m.groups()[1:] for m in found if m]
    assert said == [
        ("DescribeRegions", "200", "-", admin["AccessKeyId"], "cn-hangzhou"),
        ("DescribeRegions", "400", "SignatureDoesNotMatch", "-", "-"),
    ]
