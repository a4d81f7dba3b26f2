"""Who a gateway request comes from: the client key that signed it, checked, and the caller it
makes — the key's account and region, with the ``Application`` its access point's policies grant.

The protocol checks the request's form (headers, body digest, date window) and hands over the
string it signed; the signature is checked here with the key's stored public key, through the
``ClientKeyCrypto`` port, whose parsed keys are remembered.
"""

from __future__ import annotations

from dataclasses import dataclass

from openkms.domain import errors
from openkms.domain.app_access import format_time
from openkms.domain.identity import Caller
from openkms.domain.ports import ClientKeyCrypto
from openkms.service.app_access import AppAccessService


@dataclass(frozen=True, slots=True)
class SignedRequest:
    client_key_id: str
    string_to_sign: bytes
    signature: bytes
    source_ip: str
    secure: bool


class GatewayAuthenticator:
    def __init__(self, app_access: AppAccessService, keys: ClientKeyCrypto) -> None:
        self._app_access = app_access
        self._keys = keys

    def caller(self, request: SignedRequest, now: float) -> Caller:
        key = self._app_access.client_key(request.client_key_id)
        if key is None:
            raise errors.ClientKeyNotFound()
        if not self._keys.verify(key.public_key, request.string_to_sign, request.signature):
            raise errors.ClientKeySignatureMismatch()
        if now < key.not_before:
            raise errors.ClientKeyNotValid(f"it is valid from {format_time(key.not_before)}")
        if now > key.not_after:
            raise errors.ClientKeyNotValid(f"it expired at {format_time(key.not_after)}")
        application = self._app_access.application(key)
        caller = Caller(key.account_uid, key.region, key.id, "", request.source_ip, request.secure, application)
        if not application.reachable(request.source_ip):
            raise errors.SourceNotAllowed(request.source_ip)
        return caller
