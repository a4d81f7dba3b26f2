"""protocol/render.py: JSON by default, XML when asked, with the shapes the SDKs parse."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from openkms.protocol.render import JSON_TYPE, XML_TYPE, render, render_json, render_xml

BODY = {
    "RequestId": "B2EA4DDC-2E06-471E-8784-6C33AD871AAF",
    "KeyMetadata": {"KeyId": "k1", "DeletionProtection": "Disabled", "Description": ""},
    "Value": True,
    "Other": False,
    "TotalCount": 12,
    "Aliases": {"Alias": [{"AliasName": "alias/a"}, {"AliasName": "alias/b"}]},
    "KeyIds": {"KeyId": ["k1", "k2", "k3"]},
    "Empty": {"Item": []},
    "Text": "<&> \"quoted\" 'single' wörld",
}


def test_json_is_the_default() -> None:
    content_type, payload = render(BODY, None)
    assert content_type == JSON_TYPE == b"application/json;charset=utf-8"
    assert json.loads(payload) == BODY


def test_json_types_are_native() -> None:
    text = render_json(BODY).decode()
    assert '"Value":true' in text
    assert '"Other":false' in text
    assert '"TotalCount":12' in text  # an integer, never a string
    assert "wörld" in text  # UTF-8, not \\u escapes


def test_xml_shape() -> None:
    content_type, payload = render(BODY, "DescribeKeyResponse")
    # The new SDK parses an error body as XML only for exactly this content type.
    assert content_type == XML_TYPE == b"text/xml;charset=utf-8"
    assert payload.startswith(b"<?xml version='1.0' encoding='UTF-8'?><DescribeKeyResponse>")
    root = ET.fromstring(payload)
    assert root.tag == "DescribeKeyResponse"
    assert root.findtext("RequestId") == BODY["RequestId"]
    assert root.findtext("KeyMetadata/KeyId") == "k1"
    assert root.findtext("KeyMetadata/Description") == ""
    assert root.findtext("Value") == "true"
    assert root.findtext("Other") == "false"
    assert root.findtext("TotalCount") == "12"
    assert root.findtext("Text") == BODY["Text"]


def test_xml_lists_repeat_the_element() -> None:
    root = ET.fromstring(render_xml("R", BODY))
    assert [a.findtext("AliasName") for a in root.findall("Aliases/Alias")] == ["alias/a", "alias/b"]
    assert [k.text for k in root.findall("KeyIds/KeyId")] == ["k1", "k2", "k3"]
    assert len(root.findall("Aliases")) == 1
    # An empty list leaves its container empty.
    assert root.find("Empty") is not None
    assert root.findall("Empty/Item") == []


def test_xml_escapes_markup() -> None:
    payload = render_xml("Error", {"Message": "a</Message><Code>Fake</Code>"})
    root = ET.fromstring(payload)
    assert root.findtext("Message") == "a</Message><Code>Fake</Code>"
    assert root.find("Code") is None


def test_xml_error_body() -> None:
    body = {"RequestId": "r", "HostId": "h", "Code": "Forbidden.KeyNotFound", "Message": "m", "Recommend": "x&y"}
    root = ET.fromstring(render(body, "Error")[1])
    assert root.tag == "Error"
    assert {child.tag: child.text for child in root} == body
