"""KMS instances (ListKmsInstances, GetKmsInstance, GetKmsInstanceQuotaInfos,
GetDefaultKmsInstance): the configured key stores, read from ``Backends``, with the caller's use of
each counted from its keys and secrets in the region."""

from __future__ import annotations

from openkms.domain import errors
from openkms.domain.actions import action
from openkms.domain.identity import Caller
from openkms.domain.instances import DEFAULT_INSTANCE, Instance, InstanceUsage, QuotaResource, instance_id, store_id
from openkms.domain.ports import Store
from openkms.service.backends import Backends
from openkms.service.resolve import KeyResolver

_LIST, _GET = action("ListKmsInstances"), action("GetKmsInstance")
_QUOTAS, _DEFAULT = action("GetKmsInstanceQuotaInfos"), action("GetDefaultKmsInstance")


class InstanceService:
    def __init__(self, store: Store, resolver: KeyResolver, backends: Backends, keys_per_region: int) -> None:
        self._store = store
        self._resolver = resolver
        self._backends = backends
        self._keys_per_region = keys_per_region

    def _instances(self) -> list[Instance]:
        """One instance per store id (a store id may serve two protection levels)."""
        found: dict[str, Instance] = {}
        for status in self._backends.key_stores():
            known = found.get(status.id)
            available = status.available or (known is not None and known.available)
            found[status.id] = Instance(instance_id(status.id), status.id, status.description, available)
        return sorted(found.values(), key=lambda i: (i.id != DEFAULT_INSTANCE, i.id))

    def instance(self, ref: str) -> Instance:
        """The instance ``ref`` names (an instance id), for the gateway and the actions below."""
        wanted = store_id(ref.strip())
        for found in self._instances():
            if found.store_id == wanted:
                return found
        raise errors.InstanceNotFound()

    @staticmethod
    def store_of(instance: str) -> str:
        """The key store an instance id names (whether or not it is still configured)."""
        return store_id(instance)

    def list_instances(self, caller: Caller) -> list[Instance]:
        self._resolver.authorize(caller, _LIST)
        return self._instances()

    def get_instance(self, caller: Caller, ref: str) -> InstanceUsage:
        self._resolver.authorize(caller, _GET)
        return self._usage(caller, self.instance(ref))

    def quotas(self, caller: Caller, ref: str, resource: QuotaResource | None) -> list[tuple[QuotaResource, int, int]]:
        """(resource type, quota, used) for each type asked; a quota of 0 means none is set."""
        self._resolver.authorize(caller, _QUOTAS)
        usage = self._usage(caller, self.instance(ref))
        rows = [
            (QuotaResource.KEY, self._keys_per_region, usage.keys),
            (QuotaResource.SECRET, 0, usage.secrets),
            (QuotaResource.VPC, 0, 0),
        ]
        return [row for row in rows if resource is None or row[0] is resource]

    def default_instance(self, caller: Caller) -> str:
        self._resolver.authorize(caller, _DEFAULT)
        return DEFAULT_INSTANCE

    def _usage(self, caller: Caller, instance: Instance) -> InstanceUsage:
        with self._store.read() as uow:
            keys = uow.keys.list_in_region(caller.account_uid, caller.region)
            secrets = uow.secrets.list_in_region(caller.account_uid, caller.region)
        in_store = sum(1 for key in keys if key.key_store_id == instance.store_id)
        secret_count = sum(1 for s in secrets if store_id(s.dkms_instance_id) == instance.store_id)
        return InstanceUsage(instance, caller.region, in_store, secret_count)
