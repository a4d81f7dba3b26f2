"""Application access (KMS 2016-01-20): application access points, client keys, their permission
policies and network rules; and, for the instance gateway, the application a client key speaks
for (``application``).

The management actions are authorized through ``KeyResolver.authorize`` on the caller's keys as a
whole, as CreateKey is. A name is unique per kind in an account's region; a policy an access point
names, or a network rule a policy names, cannot be deleted while it is named.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from openkms.domain import app_access as a
from openkms.domain import errors
from openkms.domain.actions import action
from openkms.domain.app_access import AccessPoint, Application, AppPolicy, ClientKey, Grant, NetworkRule
from openkms.domain.identity import Caller
from openkms.domain.ports import ClientKeyCrypto, Clock, Named, Store, UnitOfWork
from openkms.service.instances import InstanceService
from openkms.service.resolve import KeyResolver

_WHAT = {AccessPoint: "application access point", AppPolicy: "policy", NetworkRule: "network rule"}


@dataclass(frozen=True)
class IssuedClientKey:
    key: ClientKey
    private_key_data: bytes = field(repr=False)  # the PKCS#12, handed out once


@dataclass(frozen=True)
class PolicyFields:
    description: str | None = None
    permissions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    network_rules: tuple[str, ...] | None = None


class AppAccessService:
    def __init__(
        self, store: Store, resolver: KeyResolver, clock: Clock, keys: ClientKeyCrypto, instances: InstanceService
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._clock = clock
        self._keys = keys
        self._instances = instances

    def _now(self) -> int:
        return int(self._clock.now())

    def _authorize(self, caller: Caller, name: str) -> None:
        self._resolver.authorize(caller, action(name))

    @staticmethod
    def _get(uow: UnitOfWork, kind: type[Named], caller: Caller, name: str, parameter: str = "Name") -> Named:
        found = uow.app_access.get(kind, caller.account_uid, caller.region, name)
        if found is None:
            raise errors.AccessResourceNotFound(_WHAT[kind], parameter)
        return found

    @staticmethod
    def _absent(uow: UnitOfWork, kind: type[Named], caller: Caller, name: str) -> None:
        if uow.app_access.get(kind, caller.account_uid, caller.region, name) is not None:
            raise errors.AccessResourceExists(_WHAT[kind])

    def _require(self, uow: UnitOfWork, kind: type[Named], caller: Caller, names: tuple[str, ...], param: str) -> None:
        for name in names:
            self._get(uow, kind, caller, name, param)

    # --- application access points --------------------------------------------------------------

    def create_access_point(
        self, caller: Caller, name: str, method: str, policies: tuple[str, ...], description: str
    ) -> AccessPoint:
        self._authorize(caller, "CreateApplicationAccessPoint")
        a.check_name(name)
        a.check_description(description)
        if method != a.CLIENT_KEY:
            raise errors.InvalidParameter("AuthenticationMethod", f"The AuthenticationMethod is {a.CLIENT_KEY}.")
        point = AccessPoint(caller.account_uid, caller.region, name, description, method, policies, self._now())
        with self._store.write() as uow:
            self._absent(uow, AccessPoint, caller, name)
            self._require(uow, AppPolicy, caller, policies, "Policies")
            uow.app_access.add(point)
        return point

    def describe_access_point(self, caller: Caller, name: str) -> AccessPoint:
        self._authorize(caller, "DescribeApplicationAccessPoint")
        with self._store.read() as uow:
            return self._get(uow, AccessPoint, caller, name)

    def list_access_points(self, caller: Caller) -> list[AccessPoint]:
        self._authorize(caller, "ListApplicationAccessPoints")
        with self._store.read() as uow:
            return uow.app_access.list_all(AccessPoint, caller.account_uid, caller.region)

    def update_access_point(
        self, caller: Caller, name: str, description: str | None, policies: tuple[str, ...] | None
    ) -> None:
        self._authorize(caller, "UpdateApplicationAccessPoint")
        with self._store.write() as uow:
            point = self._get(uow, AccessPoint, caller, name)
            if policies is not None:
                self._require(uow, AppPolicy, caller, policies, "Policies")
                point = replace(point, policies=policies)
            if description is not None:
                point = replace(point, description=a.check_description(description))
            uow.app_access.save(point)

    def delete_access_point(self, caller: Caller, name: str) -> None:
        self._authorize(caller, "DeleteApplicationAccessPoint")
        with self._store.write() as uow:
            point = self._get(uow, AccessPoint, caller, name)
            if uow.app_access.client_keys(caller.account_uid, caller.region, name):
                raise errors.AccessResourceInUse(_WHAT[AccessPoint], "its client keys")
            uow.app_access.delete(point)

    # --- client keys ------------------------------------------------------------------------------

    def create_client_key(
        self, caller: Caller, aap_name: str, password: str, not_before: int | None, not_after: int | None
    ) -> IssuedClientKey:
        self._authorize(caller, "CreateClientKey")
        a.check_password(password)
        start, end = a.validity(not_before, not_after, self._now())
        with self._store.read() as uow:
            self._get(uow, AccessPoint, caller, aap_name, "AapName")
        public, bundle = self._keys.issue(password)  # outside the write: generating takes a while
        key = ClientKey(
            f"{a.CLIENT_KEY_PREFIX}{uuid.uuid4()}", caller.account_uid, caller.region, aap_name, public,
            a.CLIENT_KEY_ALGORITHM, start, end, self._now(),
        )  # fmt: skip
        with self._store.write() as uow:
            self._get(uow, AccessPoint, caller, aap_name, "AapName")  # not deleted meanwhile
            uow.app_access.add_client_key(key)
        return IssuedClientKey(key, bundle)

    def _client_key(self, uow: UnitOfWork, caller: Caller, key_id: str) -> ClientKey:
        key = uow.app_access.client_key(key_id)
        if key is None or (key.account_uid, key.region) != (caller.account_uid, caller.region):
            raise errors.AccessResourceNotFound("client key", "ClientKeyId")
        return key

    def get_client_key(self, caller: Caller, key_id: str) -> ClientKey:
        self._authorize(caller, "GetClientKey")
        with self._store.read() as uow:
            return self._client_key(uow, caller, key_id)

    def list_client_keys(self, caller: Caller, aap_name: str) -> list[ClientKey]:
        self._authorize(caller, "ListClientKeys")
        with self._store.read() as uow:
            self._get(uow, AccessPoint, caller, aap_name, "AapName")
            return uow.app_access.client_keys(caller.account_uid, caller.region, aap_name)

    def delete_client_key(self, caller: Caller, key_id: str) -> None:
        self._authorize(caller, "DeleteClientKey")
        with self._store.write() as uow:
            uow.app_access.delete_client_key(self._client_key(uow, caller, key_id))

    # --- policies ---------------------------------------------------------------------------------

    def create_policy(self, caller: Caller, name: str, instance: str, fields: PolicyFields) -> AppPolicy:
        self._authorize(caller, "CreatePolicy")
        a.check_name(name)
        kms_instance = self._instances.instance(instance).id
        policy = AppPolicy(
            caller.account_uid, caller.region, name, a.check_description(fields.description or ""), kms_instance,
            fields.permissions or (), fields.resources or (), fields.network_rules or (), self._now(),
        )  # fmt: skip
        with self._store.write() as uow:
            self._absent(uow, AppPolicy, caller, name)
            self._require(uow, NetworkRule, caller, policy.network_rules, "AccessControlRules")
            uow.app_access.add(policy)
        return policy

    def describe_policy(self, caller: Caller, name: str) -> AppPolicy:
        self._authorize(caller, "DescribePolicy")
        with self._store.read() as uow:
            return self._get(uow, AppPolicy, caller, name)

    def list_policies(self, caller: Caller) -> list[AppPolicy]:
        self._authorize(caller, "ListPolicies")
        with self._store.read() as uow:
            return uow.app_access.list_all(AppPolicy, caller.account_uid, caller.region)

    def update_policy(self, caller: Caller, name: str, fields: PolicyFields) -> None:
        self._authorize(caller, "UpdatePolicy")
        with self._store.write() as uow:
            policy = self._get(uow, AppPolicy, caller, name)
            if fields.network_rules is not None:
                self._require(uow, NetworkRule, caller, fields.network_rules, "AccessControlRules")
            policy = replace(
                policy,
                description=policy.description
                if fields.description is None
                else a.check_description(fields.description),
                permissions=fields.permissions or policy.permissions,
                resources=fields.resources or policy.resources,
                network_rules=policy.network_rules if fields.network_rules is None else fields.network_rules,
            )
            uow.app_access.save(policy)

    def delete_policy(self, caller: Caller, name: str) -> None:
        self._authorize(caller, "DeletePolicy")
        with self._store.write() as uow:
            policy = self._get(uow, AppPolicy, caller, name)
            for point in uow.app_access.list_all(AccessPoint, caller.account_uid, caller.region):
                if name in point.policies:
                    raise errors.AccessResourceInUse(_WHAT[AppPolicy], f"the application access point {point.name}")
            uow.app_access.delete(policy)

    # --- network rules ----------------------------------------------------------------------------

    def create_network_rule(
        self, caller: Caller, name: str, rule_type: str, sources: tuple[str, ...], description: str
    ) -> NetworkRule:
        self._authorize(caller, "CreateNetworkRule")
        a.check_name(name)
        if rule_type != a.PRIVATE:
            raise errors.InvalidParameter("Type", f"The Type is {a.PRIVATE}.")
        rule = NetworkRule(
            caller.account_uid, caller.region, name, a.check_description(description), rule_type, sources, self._now()
        )
        with self._store.write() as uow:
            self._absent(uow, NetworkRule, caller, name)
            uow.app_access.add(rule)
        return rule

    def describe_network_rule(self, caller: Caller, name: str) -> NetworkRule:
        self._authorize(caller, "DescribeNetworkRule")
        with self._store.read() as uow:
            return self._get(uow, NetworkRule, caller, name)

    def list_network_rules(self, caller: Caller) -> list[NetworkRule]:
        self._authorize(caller, "ListNetworkRules")
        with self._store.read() as uow:
            return uow.app_access.list_all(NetworkRule, caller.account_uid, caller.region)

    def update_network_rule(
        self, caller: Caller, name: str, sources: tuple[str, ...] | None, description: str | None
    ) -> None:
        self._authorize(caller, "UpdateNetworkRule")
        with self._store.write() as uow:
            rule = self._get(uow, NetworkRule, caller, name)
            if sources is not None:
                rule = replace(rule, source_private_ip=sources)
            if description is not None:
                rule = replace(rule, description=a.check_description(description))
            uow.app_access.save(rule)

    def delete_network_rule(self, caller: Caller, name: str) -> None:
        self._authorize(caller, "DeleteNetworkRule")
        with self._store.write() as uow:
            rule = self._get(uow, NetworkRule, caller, name)
            for policy in uow.app_access.list_all(AppPolicy, caller.account_uid, caller.region):
                if name in policy.network_rules:
                    raise errors.AccessResourceInUse(_WHAT[NetworkRule], f"the policy {policy.name}")
            uow.app_access.delete(rule)

    # --- the instance gateway ---------------------------------------------------------------------

    def client_key(self, key_id: str) -> ClientKey | None:
        """The client key a gateway request names (authentication: no caller yet)."""
        with self._store.read() as uow:
            return uow.app_access.client_key(key_id)

    def application(self, key: ClientKey) -> Application:
        """What the key's access point grants, each policy with its instance and networks; an
        access point deleted or a policy or rule gone grants nothing of it."""
        grants = []
        with self._store.read() as uow:
            point = uow.app_access.get(AccessPoint, key.account_uid, key.region, key.aap_name)
            for name in point.policies if point is not None else ():
                policy = uow.app_access.get(AppPolicy, key.account_uid, key.region, name)
                if policy is None:
                    continue
                rules = [uow.app_access.get(NetworkRule, key.account_uid, key.region, r) for r in policy.network_rules]
                networks = a.networks([r for r in rules if r is not None]) if policy.network_rules else None
                store_id = self._instances.store_of(policy.kms_instance)
                grants.append(Grant(frozenset(policy.permissions), policy.resources, store_id, networks))
        return Application(key.id, key.aap_name, tuple(grants))
