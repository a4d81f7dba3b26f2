"""Response bodies: JSON (the default) or XML when the request says ``Format=XML``."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import orjson

JSON_TYPE = b"application/json;charset=utf-8"
# The new-generation SDK parses an error body as XML only for exactly this content type.
XML_TYPE = b"text/xml;charset=utf-8"


def render_json(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _xml_fields(body: dict[str, Any], out: list[str]) -> None:
    for name, value in body.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            out.append(f"<{name}>")
            if isinstance(item, dict):
                _xml_fields(item, out)
            else:
                out.append(_xml_value(item))
            out.append(f"</{name}>")


def render_xml(root: str, body: dict[str, Any]) -> bytes:
    out = ["<?xml version='1.0' encoding='UTF-8'?>", f"<{root}>"]
    _xml_fields(body, out)
    out.append(f"</{root}>")
    return "".join(out).encode()


def render(body: dict[str, Any], xml_root: str | None) -> tuple[bytes, bytes]:
    """Returns (content type, bytes)."""
    if xml_root is None:
        return JSON_TYPE, render_json(body)
    return XML_TYPE, render_xml(xml_root, body)
