"""Authenticates a request: which scheme, which AccessKey, fresh timestamp, unused nonce, exact signature.

Order: scheme and required fields, timestamp window, AccessKey lookup, signature (constant-time
compare), AccessKey status, and only then the nonce is recorded, so that a request with a bad
signature cannot burn a nonce.
"""

from __future__ import annotations

import calendar
import functools
import hmac
import re
from datetime import datetime

from openkms.domain import errors
from openkms.domain.identity import MAX_SKEW_SECONDS
from openkms.domain.ports import NonceCache
from openkms.protocol import signing
from openkms.protocol.errors import (
    IllegalTimestamp,
    IncompleteSignature,
    NonceUsed,
    SignatureDoesNotMatch,
    TimestampExpired,
    TimestampFormat,
)
from openkms.protocol.request import RpcRequest
from openkms.service.identity import Credential, IdentityService

V3_REQUIRED_SIGNED = ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce")
_V3_AUTH = re.compile(
    r"^(ACS3-[A-Z0-9-]+)\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$"
)
# [0-9], not \d, which takes any Unicode digit (int() reads "٢٠٢٤" as 2024).
_TIMESTAMP = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?Z$")


# Requests signed within the same second carry the same text: parsed once (3 us, 0.2 from the
# cache). A refusal raises, and lru_cache keeps no exceptions, so invalid texts take no room.
@functools.lru_cache(maxsize=256)
def parse_timestamp(value: str | None, name: str) -> float:
    """``YYYY-MM-DDThh:mm:ssZ`` (UTC), optionally with fractional seconds."""
    if value is None or value == "":
        raise IllegalTimestamp(name)
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise TimestampFormat(name)
    y, mo, d, h, mi, s = (int(g) for g in match.groups())
    try:
        datetime(y, mo, d, h, mi, s)  # rejects 2024-02-30 and the like
    except ValueError:
        raise TimestampFormat(name) from None
    return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))


class Authenticator:
    def __init__(self, identity: IdentityService, nonces: NonceCache) -> None:
        self._identity = identity
        self._nonces = nonces

    def authenticate(self, req: RpcRequest, now: float) -> Credential:
        # The AccessKey may come from remembered rows that only the nonce claim checks for changes
        # (one round trip on PostgreSQL): a refusal resting on them is made only once they are
        # checked, and a success is confirmed after the claim (``_finish``).
        with self._identity.checked_by_claim():
            try:
                return self._authenticate(req, now)
            except (errors.AccessKeyNotFound, errors.AccessKeyDisabled, SignatureDoesNotMatch):
                if not self._identity.recheck():
                    raise
        return self._authenticate(req, now)  # the pair changed meanwhile: again, on its rows now

    def _authenticate(self, req: RpcRequest, now: float) -> Credential:
        authorization = req.header("authorization")
        if authorization and authorization.startswith("ACS3-"):
            return self._v3(req, authorization, now)
        if "Signature" in req.params:
            return self._v1(req, now)
        if authorization and authorization.startswith("ACS4-"):
            raise IncompleteSignature("ACS4-HMAC-SHA256 is not supported; use V3 (the SDK default) or V1.")
        raise IncompleteSignature("The request carries no Signature parameter and no ACS3 Authorization header.")

    def _check_time(self, value: str | None, name: str, now: float) -> float:
        signed_at = parse_timestamp(value, name)
        if abs(now - signed_at) > MAX_SKEW_SECONDS:
            raise TimestampExpired()
        return signed_at

    def _finish(self, cred: Credential, nonce: str, now: float, signed_at: float, string_to_sign: str) -> Credential:
        if not cred.enabled:
            raise errors.AccessKeyDisabled()
        if not self._nonces.claim(f"{cred.access_key_id}:{nonce}", now, signed_at):
            raise NonceUsed()
        now_cred = self._identity.confirm(cred)
        if now_cred is cred:
            return cred
        # The claim found the pair changed since it was read: the request is judged by the pair
        # as it is now (its nonce stays claimed: the request was signed, once).
        if now_cred is None:
            raise errors.AccessKeyNotFound()
        if not hmac.compare_digest(now_cred.secret.encode(), cred.secret.encode()):
            raise SignatureDoesNotMatch(string_to_sign)  # it matched the former secret only
        if not now_cred.enabled:
            raise errors.AccessKeyDisabled()
        return now_cred

    def _v1(self, req: RpcRequest, now: float) -> Credential:
        p = req.params
        if p.get("SignatureMethod", "") != "HMAC-SHA1":
            raise IncompleteSignature("SignatureMethod must be HMAC-SHA1.")
        if p.get("SignatureVersion", "1.0") != "1.0":
            raise IncompleteSignature("SignatureVersion must be 1.0.")
        access_key_id = p.get("AccessKeyId") or ""
        if not access_key_id:
            raise errors.MissingParameter("AccessKeyId")
        if not p.get("Action"):
            # V1 signs parameters, not headers: an action named only by x-acs-action would be
            # unsigned, and a captured request could be replayed as another action.
            raise errors.MissingParameter("Action")
        nonce = p.get("SignatureNonce") or ""
        if not nonce:
            raise errors.MissingParameter("SignatureNonce")
        signed_at = self._check_time(p.get("Timestamp"), "Timestamp", now)
        cred = self._identity.credential(access_key_id)
        string_to_sign = signing.v1_string_to_sign(req.method, p)
        expected = signing.v1_signature(cred.secret, string_to_sign)
        if not hmac.compare_digest(expected.encode(), p.get("Signature", "").encode()):
            raise SignatureDoesNotMatch(string_to_sign)
        return self._finish(cred, nonce, now, signed_at, string_to_sign)

    def _v3(self, req: RpcRequest, authorization: str, now: float) -> Credential:
        match = _V3_AUTH.fullmatch(authorization)
        if match is None:
            raise IncompleteSignature("The Authorization header is malformed.")
        algorithm, access_key_id, signed_text, signature = match.groups()
        if algorithm not in signing.V3_ALGORITHMS:
            raise IncompleteSignature(f"Unsupported signature algorithm {algorithm}.")
        signed = signed_text.lower().split(";")
        missing = [h for h in V3_REQUIRED_SIGNED if h not in signed]
        if req.body and "content-type" not in signed:
            # The body's hash is signed, but how it is read is not: with an unsigned content-type
            # anyone on the path could make its parameters be ignored without breaking the signature.
            missing.append("content-type (the request has a body)")
        if missing:
            raise IncompleteSignature(f"SignedHeaders must include {', '.join(missing)}.")
        nonce = req.header("x-acs-signature-nonce") or ""
        if not nonce:
            raise errors.MissingParameter("x-acs-signature-nonce")
        signed_at = self._check_time(req.header("x-acs-date"), "x-acs-date", now)
        cred = self._identity.credential(access_key_id)
        payload_hash = signing.hash_hex(algorithm, req.body)
        claimed = req.header("x-acs-content-sha256")
        if claimed is not None and not hmac.compare_digest(claimed.lower().encode(), payload_hash.encode()):
            raise IncompleteSignature("x-acs-content-sha256 does not match the request body.")
        canonical = signing.v3_canonical_request(req.method, req.path, req.query, req.headers, signed, payload_hash)
        string_to_sign = signing.v3_string_to_sign(algorithm, canonical)
        expected = signing.v3_signature(algorithm, cred.secret, string_to_sign)
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            raise SignatureDoesNotMatch(string_to_sign)
        return self._finish(cred, nonce, now, signed_at, string_to_sign)
