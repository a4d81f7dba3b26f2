"""Which requests the RPC app hands to a worker thread even where handlers run on the event loop:
those that may name an action that waits on another server (RotateSecret), wherever it is named."""

from __future__ import annotations

import pytest

from openkms.protocol.app import _may_wait

QUERY = b"AccessKeyId=LTAI&Action=Encrypt&Format=JSON&KeyId=k&Plaintext=aGk%3D&Version=2016-01-20"
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"sdk"), (b"content-type", b"application/json")]


@pytest.mark.parametrize(
    ("body", "query", "headers"),
    [
        (b"Action=RotateSecret&SecretName=s", b"", HEADERS),  # the V3 SDK's form body
        (b"", QUERY.replace(b"Encrypt", b"RotateSecret"), HEADERS),  # a V1 GET
        (None, b"", [*HEADERS, (b"x-acs-action", b"RotateSecret")]),  # named by the header only
    ],
)
def test_rotate_secret_named_anywhere_goes_to_a_thread(
    body: bytes | None, query: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    assert _may_wait(body, {"query_string": query, "headers": headers})


@pytest.mark.parametrize("body", [b"", None, b"Action=Encrypt&Plaintext=aGk%3D"])
def test_other_requests_stay_on_the_loop(body: bytes | None) -> None:
    headers = [*HEADERS, (b"x-acs-action", b"Encrypt"), (b"x-rotatesecret", b"RotateSecret")]
    assert not _may_wait(body, {"query_string": QUERY, "headers": headers})
