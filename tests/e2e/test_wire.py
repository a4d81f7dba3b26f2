"""The RPC wire protocol (spec 1.1, 1.2, 1.8, 1.10; test plan 24): methods, where parameters
travel, encodings, Action/Version, Format=XML, RequestId, error bodies, regions.

Hand-signed requests say exactly what goes on the wire; SDK-driven tests check the same
behaviour through every official client.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkkms.request.v20160120.DecryptRequest import DecryptRequest
from aliyunsdkkms.request.v20160120.EncryptRequest import EncryptRequest

from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error, expect_wire, ok
from tests.e2e.signed import Signer
from tests.servers import InProcessServer

XML = "text/xml;charset=utf-8"


@pytest.fixture
def signer(server: InProcessServer) -> Signer:
    return Signer.for_new_account(server)


def create_key(signer: Signer, **params: str) -> dict[str, Any]:
    meta: dict[str, Any] = ok(signer.v1("CreateKey", params).send())["KeyMetadata"]
    return meta


# --- methods and where parameters travel ----------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused(signer: Signer, method: str) -> None:
    resp = signer.v1("DescribeRegions", method=method).send()
    body = expect_wire(resp, 403, "UnsupportedHTTPMethod")
    assert body["Message"] == "This http method is not supported."


def test_get_request(signer: Signer) -> None:
    key_id = create_key(signer)["KeyId"]
    out = ok(signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "by GET"}, method="GET").send())
    back = ok(signer.v3("Decrypt", {"CiphertextBlob": out["CiphertextBlob"]}, method="GET").send())
    assert back["Plaintext"] == "by GET"


def test_old_sdk_with_get(server: InProcessServer) -> None:
    ak, secret, _ = server.new_account()
    key_id = Kms("old", server.endpoint, ak, secret).call("CreateKey")["KeyMetadata"]["KeyId"]
    client = AcsClient(ak, secret, "cn-hangzhou")
    enc = EncryptRequest()
    dec = DecryptRequest()
    for req in (enc, dec):
        req.set_endpoint(server.endpoint)
        req.set_protocol_type("http")
        req.set_method("GET")
    enc.set_KeyId(key_id)
    enc.set_Plaintext("old SDK, GET ✓")
    enc.set_EncryptionContext(json.dumps({"via": "GET"}))
    blob = json.loads(client.do_action_with_exception(enc))["CiphertextBlob"]
    dec.set_CiphertextBlob(blob)
    dec.set_EncryptionContext(json.dumps({"via": "GET"}))
    assert json.loads(client.do_action_with_exception(dec))["Plaintext"] == "old SDK, GET ✓"


def test_all_parameters_in_a_form_body(signer: Signer) -> None:
    key_id = create_key(signer)["KeyId"]
    params = {"KeyId": key_id, "Plaintext": "in a body + more", "EncryptionContext": '{"a":"1"}'}
    req = signer.v1("Encrypt", params, in_body="all")
    assert req.query == ""
    assert b"Signature=" in req.body
    assert b"Action=Encrypt" in req.body
    out = ok(req.send())
    # Common parameters in the query, API parameters in the body: signed over both.
    req = signer.v1("Decrypt", {"CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": '{"a":"1"}'},
                    in_body=("CiphertextBlob", "EncryptionContext"))  # fmt: skip
    assert "CiphertextBlob" not in req.query
    assert ok(req.send())["Plaintext"] == "in a body + more"


def test_body_parameter_not_covered_by_the_signature_is_detected(signer: Signer) -> None:
    req = signer.v1("DescribeRegions")
    req.body = b"Extra=1"
    req.headers["content-type"] = "application/x-www-form-urlencoded"
    expect_wire(req.send(), 400, "SignatureDoesNotMatch")


def test_the_body_wins_over_the_query(signer: Signer) -> None:
    key_id = create_key(signer)["KeyId"]
    req = signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "from the body"}, in_body=("Plaintext",))
    # The query also names Plaintext; the V1 signature covers the merged set, where the body wins.
    req.query += "&Plaintext=from%20the%20query"
    out = ok(req.send())
    assert ok(signer.v1("Decrypt", {"CiphertextBlob": out["CiphertextBlob"]}).send())["Plaintext"] == "from the body"


def test_a_body_that_is_not_a_form_is_not_parsed(signer: Signer) -> None:
    key_id = create_key(signer)["KeyId"]
    req = signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "q"})
    req.body = b'{"Plaintext": "json body"}'
    req.headers["content-type"] = "application/json"
    out = ok(req.send())
    assert ok(signer.v1("Decrypt", {"CiphertextBlob": out["CiphertextBlob"]}).send())["Plaintext"] == "q"


# --- encodings ------------------------------------------------------------------------------------


def test_plus_and_percent20_both_mean_a_space(signer: Signer) -> None:
    key_id = create_key(signer)["KeyId"]
    text = "hello world, a+b=c"
    for plus in (False, True):
        for req in (
            signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": text}, plus_for_space=plus),
            signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": text}, plus_for_space=plus, in_body="all"),
            signer.v3("Encrypt", {"KeyId": key_id, "Plaintext": text}, plus_for_space=plus),
            signer.v3("Encrypt", body={"KeyId": key_id, "Plaintext": text}, plus_for_space=plus),
        ):
            assert ("hello+world" in req.query + req.body.decode()) is plus
            blob = ok(req.send())["CiphertextBlob"]
            assert ok(signer.v1("Decrypt", {"CiphertextBlob": blob}).send())["Plaintext"] == text


def test_undecodable_parameters_get_a_clear_error(signer: Signer, server: InProcessServer) -> None:
    for query in ("Action=Encrypt&Plaintext=%FF%FE", "Action=%C3%28"):
        resp = httpx.post(f"{server.base_url}/?{query}&Version=2016-01-20")
        expect_wire(resp, 400, "ParseRequestParameterException")
    resp = httpx.post(
        f"{server.base_url}/?Action=DescribeRegions&Version=2016-01-20",
        content=b"Plaintext=\xff",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    expect_wire(resp, 400, "ParseRequestParameterException")
    resp = httpx.post(
        f"{server.base_url}/?Action=DescribeRegions&Version=2016-01-20",
        content=b"P=" + b"x" * (256 * 1024 + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    expect_wire(resp, 413, "RequestEntityTooLarge")


def test_empty_valued_parameters_mean_absent(signer: Signer) -> None:
    key_id = create_key(signer)["KeyId"]
    # SignatureType= (sent empty by the old SDK) is signed like any other parameter.
    empty = {"EncryptionContext": "", "DryRun": "", "SignatureType": "", "RegionId": ""}
    out = ok(signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "p", **empty}).send())
    assert ok(signer.v3("Decrypt", {"CiphertextBlob": out["CiphertextBlob"], **empty}).send())["Plaintext"] == "p"
    dk = ok(signer.v1("GenerateDataKey", {"KeyId": key_id, "NumberOfBytes": "", "KeySpec": ""}).send())
    assert len(base64.b64decode(dk["Plaintext"])) == 32
    body = expect_wire(signer.v1("Encrypt", {"KeyId": "", "Plaintext": "p"}).send(), 400, "MissingParameter")
    assert '"KeyId"' in body["Message"]


@pytest.mark.parametrize("word", ["True", "true", "TRUE"])
def test_booleans_true(signer: Signer, word: str) -> None:
    key_id = create_key(signer)["KeyId"]
    expect_wire(signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "p", "DryRun": word}).send(),
                400, "DryRunOperationError")  # fmt: skip
    ok(signer.v1("UpdateRotationPolicy",
                 {"KeyId": key_id, "EnableAutomaticRotation": word, "RotationInterval": "30d"}).send())  # fmt: skip
    meta = ok(signer.v1("DescribeKey", {"KeyId": key_id}).send())["KeyMetadata"]
    assert meta["AutomaticRotation"] == "Enabled"


@pytest.mark.parametrize("word", ["False", "false", "FALSE"])
def test_booleans_false(signer: Signer, word: str) -> None:
    key_id = create_key(signer, EnableAutomaticRotation="true", RotationInterval="30d")["KeyId"]
    ok(signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "p", "DryRun": word}).send())
    ok(signer.v1("UpdateRotationPolicy", {"KeyId": key_id, "EnableAutomaticRotation": word}).send())
    assert ok(signer.v1("DescribeKey", {"KeyId": key_id}).send())["KeyMetadata"]["AutomaticRotation"] == "Disabled"


@pytest.mark.parametrize("word", ["yes", "1", "0", "T", "truee"])
def test_booleans_other_words_are_invalid(signer: Signer, word: str) -> None:
    key_id = create_key(signer)["KeyId"]
    body = expect_wire(signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "p", "DryRun": word}).send(),
                       400, "InvalidParameter")  # fmt: skip
    assert "DryRun" in body["Message"]


# --- Action and Version ---------------------------------------------------------------------------


def test_unknown_action(signer: Signer) -> None:
    expect_wire(signer.v1("NoSuchAction").send(), 404, "InvalidAction.NotFound")
    expect_wire(signer.v3("NoSuchAction").send(), 404, "InvalidAction.NotFound")
    expect_wire(signer.v1("encrypt").send(), 404, "InvalidAction.NotFound")  # names are case-sensitive
    expect_wire(signer.v1(None).send(), 400, "MissingParameter")


def test_action_and_version_from_headers_or_parameters(signer: Signer) -> None:
    # V3 (the new SDK's default) names them only in the signed x-acs-* headers.
    req = signer.v3("DescribeRegions")
    assert "Action" not in req.query
    assert ok(req.send())["Regions"]["Region"]
    # V1 signs parameters, not headers, so it must name the action as a signed parameter.
    req = signer.v1(None, headers={"x-acs-action": "DescribeRegions"})
    body = expect_wire(req.send(), 400, "MissingParameter")
    assert '"Action"' in body["Message"]
    # A parameter wins over a header.
    req = signer.v1("DescribeRegions", headers={"x-acs-action": "NoSuchAction", "x-acs-version": "2015-01-01"})
    assert ok(req.send())["Regions"]["Region"]


@pytest.mark.parametrize("version", ["2015-01-20", "2016-01-21", "v1", "2016-1-20"])
def test_other_versions_are_refused(signer: Signer, version: str) -> None:
    expect_wire(signer.v1("DescribeRegions", version=version).send(), 400, "InvalidVersion")
    expect_wire(signer.v3("DescribeRegions", version=version).send(), 400, "InvalidVersion")


def test_missing_version(signer: Signer) -> None:
    expect_wire(signer.v1("DescribeRegions", version=None).send(), 400, "MissingParameter")


# --- responses ------------------------------------------------------------------------------------


def xml_fields(root: ET.Element) -> dict[str, str]:
    return {child.tag: child.text or "" for child in root}


@pytest.mark.parametrize("fmt", ["XML", "xml"])
def test_format_xml(signer: Signer, fmt: str) -> None:
    key_id = create_key(signer)["KeyId"]
    resp = signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "<&>"}, fmt=fmt).send()
    assert (resp.status_code, resp.headers["content-type"]) == (200, XML)
    root = ET.fromstring(resp.content)
    fields = xml_fields(root)
    assert root.tag == "EncryptResponse"
    assert fields["KeyId"] == key_id
    assert fields["RequestId"] == resp.headers["x-acs-request-id"]
    back = ok(signer.v1("Decrypt", {"CiphertextBlob": fields["CiphertextBlob"]}).send())
    assert back["Plaintext"] == "<&>"

    # Nested objects and lists.
    root = ET.fromstring(signer.v1("DescribeKey", {"KeyId": key_id}, fmt=fmt).send().content)
    meta = root.find("KeyMetadata")
    assert meta is not None
    assert meta.findtext("KeyId") == key_id
    assert meta.findtext("KeyState") == "Enabled"
    root = ET.fromstring(signer.v1("ListKeyVersions", {"KeyId": key_id}, fmt=fmt).send().content)
    assert root.findtext("TotalCount") == "1"
    assert len(root.findall("KeyVersions/KeyVersion")) == 1

    # Errors too, in the <Error> element the new SDK parses for this content type.
    resp = signer.v1("Decrypt", {"CiphertextBlob": "bad!"}, fmt=fmt).send()
    assert (resp.status_code, resp.headers["content-type"]) == (400, XML)
    root = ET.fromstring(resp.content)
    assert root.tag == "Error"
    fields = xml_fields(root)
    assert fields["Code"] == "InvalidParameter"
    assert fields["RequestId"] == resp.headers["x-acs-request-id"]
    for name in ("HostId", "Message", "Recommend"):
        assert fields[name], name


@pytest.mark.parametrize("fmt", ["JSON", "json", None])
def test_format_json_is_the_default(signer: Signer, fmt: str | None) -> None:
    resp = signer.v1("DescribeRegions", fmt=fmt).send()
    assert resp.headers["content-type"] == "application/json;charset=utf-8"
    assert ok(resp)["Regions"]["Region"]


def test_request_id_on_every_response(signer: Signer, server: InProcessServer) -> None:
    key_id = create_key(signer)["KeyId"]
    responses = [
        signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "p"}).send(),
        signer.v3("DescribeKey", {"KeyId": key_id}).send(),
        signer.v1("Decrypt", {"CiphertextBlob": "x"}).send(),
        signer.v1("DescribeRegions", secret="wrong").send(),
        signer.v1("DescribeRegions", method="PUT").send(),
        httpx.post(f"{server.base_url}/"),  # nothing at all
        httpx.get(f"{server.base_url}/?Action=DescribeRegions&Version=2016-01-20"),  # unsigned
    ]
    ids = set()
    for resp in responses:
        body = resp.json()
        assert body["RequestId"] == resp.headers["x-acs-request-id"]
        ids.add(body["RequestId"])
        if resp.status_code != 200:
            expect_wire(resp, resp.status_code, body["Code"])
    assert len(ids) == len(responses)


def test_error_body_echoes_the_host(signer: Signer) -> None:
    body = expect_wire(signer.v1("Decrypt", {"CiphertextBlob": "x"}).send(), 400, "InvalidParameter")
    assert body["HostId"] == httpx.URL(signer.base_url).netloc.decode()
    req = signer.v1("Decrypt", {"CiphertextBlob": "x"}, headers={"host": "kms.cn-hangzhou.aliyuncs.com"})
    assert expect_wire(req.send(), 400, "InvalidParameter")["HostId"] == "kms.cn-hangzhou.aliyuncs.com"


def test_sdk_errors_carry_the_request_id(kms: Kms) -> None:
    err = expect_error(404, "Forbidden.KeyNotFound", kms, "DescribeKey", KeyId="00000000-0000-4000-8000-000000000000")
    assert len(err.request_id) == 36


# --- regions --------------------------------------------------------------------------------------


def region_of(meta: dict[str, Any]) -> str:
    return str(meta["Arn"].split(":")[2])


def test_region_from_the_region_id_parameter(signer: Signer) -> None:
    meta = create_key(signer, RegionId="cn-shanghai")
    assert region_of(meta) == "cn-shanghai"
    ok(signer.v3("DescribeKey", {"KeyId": meta["KeyId"], "RegionId": "cn-shanghai"}).send())
    # Keys are per region: the default region (cn-hangzhou) does not see it.
    expect_wire(signer.v1("DescribeKey", {"KeyId": meta["KeyId"]}).send(), 404, "Forbidden.KeyNotFound")


@pytest.mark.parametrize(("host", "region"), [
    ("kms.cn-shanghai.aliyuncs.com", "cn-shanghai"),
    ("kms-vpc.cn-beijing.aliyuncs.com", "cn-beijing"),
    ("kms.ap-southeast-1.aliyuncs.com:443", "ap-southeast-1"),
    ("KMS.EU-CENTRAL-1.ALIYUNCS.COM", "eu-central-1"),
    ("kms.mars-north-1.aliyuncs.com", "cn-hangzhou"),  # not in the catalogue: the default region
    ("localhost:8080", "cn-hangzhou"),
])  # fmt: skip
def test_region_from_the_host_header(signer: Signer, host: str, region: str) -> None:
    out = ok(signer.v3("CreateKey", host=host).send())  # V3 signs the host header
    assert region_of(out["KeyMetadata"]) == region
    key_id = out["KeyMetadata"]["KeyId"]
    ok(signer.v1("DescribeKey", {"KeyId": key_id, "RegionId": region}).send())
    # V1 does not sign the Host header: there it never chooses the region, the default does.
    v1_by_host = signer.v1("DescribeKey", {"KeyId": key_id}, headers={"host": host}).send()
    if region == "cn-hangzhou":
        ok(v1_by_host)
    else:
        expect_wire(v1_by_host, 404, "Forbidden.KeyNotFound")


def test_region_id_wins_over_the_host(signer: Signer) -> None:
    out = ok(signer.v3("CreateKey", {"RegionId": "cn-shenzhen"}, host="kms.cn-shanghai.aliyuncs.com").send())
    assert region_of(out["KeyMetadata"]) == "cn-shenzhen"


def test_unknown_region_id_is_refused(signer: Signer) -> None:
    for region in ("mars-north-1", "CN-HANGZHOU", "cn-hangzhou "):
        body = expect_wire(signer.v1("CreateKey", {"RegionId": region}).send(), 400, "InvalidRegionId")
        assert "region" in body["Message"]
    assert ok(signer.v1("ListKeys").send())["TotalCount"] == 0  # nothing was created


def test_regions_through_each_sdk(kms_factory) -> None:  # type: ignore[no-untyped-def]
    hangzhou: Kms = kms_factory("cn-hangzhou")
    shanghai: Kms = kms_factory("cn-shanghai")
    meta = shanghai.call("CreateKey")["KeyMetadata"]
    assert region_of(meta) == "cn-shanghai"
    assert shanghai.call("DescribeKey", KeyId=meta["KeyId"])["KeyMetadata"]["KeyId"] == meta["KeyId"]
    expect_error(404, "Forbidden.KeyNotFound", hangzhou, "DescribeKey", KeyId=meta["KeyId"])
    # An ARN naming the other region does not reach across either.
    expect_error(404, "Forbidden.KeyNotFound", hangzhou, "Encrypt", KeyId=meta["Arn"], Plaintext="x")
