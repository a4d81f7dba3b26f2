"""The trail's fast serialization (orjson) writes exactly the domain's canonical JSON."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openkms.audit.trail import canonical_json
from openkms.domain.audit import AuditEvent
from tests.unit.audit.conftest import event


def _with(text: str) -> AuditEvent:
    return replace(event(1), request_parameters={"Description": text, "KeyId": "k"}, user_agent=text,
                   referenced_resources={"ACS::KMS::Key": ("key-1",)})  # fmt: skip


AWKWARD = [
    "plain",
    "密钥 ✓",
    'quote " and \\ backslash',
    "control \x00\x01\x1f\x7f",
    "line\u2028sep",
    "tab\tnl\n",
    "</script>",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_orjson_and_the_domain_agree(text: str) -> None:
    e = _with(text)
    assert canonical_json(e) == e.to_json()


def test_a_lone_surrogate_falls_back_to_the_escaped_form() -> None:
    e = _with("a\udcffb")
    assert canonical_json(e) == e.to_json()
    assert canonical_json(e).encode()
