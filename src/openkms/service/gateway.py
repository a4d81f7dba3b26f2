"""Who a gateway request comes from: the client key that signed it, checked, and the caller it
makes — the key's account and region, with the ``Application`` its access point's policies grant.

The protocol checks the request's form (headers, body digest, date window) and hands over the
string it signed; the signature is checked here with the key's stored public key, through the
``ClientKeyCrypto`` port, whose parsed keys are remembered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from openkms.domain import errors
from openkms.domain.app_access import addressed_instance, format_time
from openkms.domain.identity import Caller
from openkms.domain.instances import DEFAULT_INSTANCE
from openkms.domain.ports import ClientKeyCrypto
from openkms.service.app_access import AppAccessService
from openkms.service.instances import InstanceService


@dataclass(frozen=True, slots=True)
class SignedRequest:
    client_key_id: str
    string_to_sign: bytes
    signature: bytes
    source_ip: str
    secure: bool
    host: str = ""  # names the instance addressed (domain/app_access.addressed_instance)


class GatewayAuthenticator:
    def __init__(self, app_access: AppAccessService, keys: ClientKeyCrypto, instances: InstanceService) -> None:
        self._app_access = app_access
        self._keys = keys
        self._instances = instances

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
        named = addressed_instance(request.host)  # an unknown instance id: InstanceNotFound
        store = (
            self._instances.store_of(DEFAULT_INSTANCE) if named is None else self._instances.instance(named).store_id
        )
        application = replace(self._app_access.application(key), addressed_store=store)
        caller = Caller(key.account_uid, key.region, key.id, "", request.source_ip, request.secure, application)
        if not application.reachable(request.source_ip):
            raise errors.SourceNotAllowed(request.source_ip)
        return caller
