"""Application access (KMS 2016-01-20, the KMS-instance side): application access points (AAPs),
their client keys, their permission policies and the network rules those policies name.

An application signs gateway requests with a client key; the key belongs to an AAP; the AAP's
policies say what it may use (``Permissions`` templates on ``Resources`` of one instance) and from
where (``AccessControlRules``: network rules of source CIDRs). ``Application`` is that, resolved
for one request: what the authorizer asks instead of RAM policies for such a caller.
"""

from __future__ import annotations

import calendar
import functools
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from openkms.domain import errors
from openkms.domain.actions import Action, Target
from openkms.domain.states import Op

KEY_USER = "RbacPermission/Template/CryptoServiceKeyUser"
SECRET_USER = "RbacPermission/Template/CryptoServiceSecretUser"  # noqa: S105 (a template's name)
PERMISSIONS = (KEY_USER, SECRET_USER)
CLIENT_KEY = "ClientKey"  # the one AuthenticationMethod
PRIVATE = "Private"  # the one network rule Type
CLIENT_KEY_ALGORITHM = "RSA_2048"
CLIENT_KEY_PREFIX = "KAAP."
MAX_POLICIES_PER_AAP = 3  # Alibaba: "up to three permission policies to each AAP"
MAX_LIST_ITEMS = 50
MAX_DESCRIPTION = 256
DEFAULT_VALIDITY = 365 * 86_400  # a client key without NotAfter: one year
_NAME = re.compile(r"^[A-Za-z0-9_./@-]{1,64}$")
_RESOURCE = re.compile(r"^(key|secret)/[A-Za-z0-9_./@*-]{1,192}$")
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AccessPoint:
    account_uid: str
    region: str
    name: str
    description: str
    authentication_method: str
    policies: tuple[str, ...]  # names of AppPolicy rows
    created_at: int


@dataclass(frozen=True, slots=True)
class AppPolicy:
    account_uid: str
    region: str
    name: str
    description: str
    kms_instance: str  # the instance id its resources are in
    permissions: tuple[str, ...]
    resources: tuple[str, ...]  # key/<id>, key/*, secret/<name>, secret/*
    network_rules: tuple[str, ...]  # AccessControlRules' NetworkRules: names of NetworkRule rows
    created_at: int


@dataclass(frozen=True, slots=True)
class NetworkRule:
    account_uid: str
    region: str
    name: str
    description: str
    type: str
    source_private_ip: tuple[str, ...]  # normalized CIDRs
    created_at: int


@dataclass(frozen=True, slots=True)
class ClientKey:
    id: str  # KAAP.<uuid>
    account_uid: str
    region: str
    aap_name: str
    public_key: bytes  # SubjectPublicKeyInfo DER; the private key is never stored
    key_algorithm: str
    not_before: int
    not_after: int
    created_at: int

    def valid_at(self, now: float) -> bool:
        return self.not_before <= now <= self.not_after


# --- what an application may do, resolved for one request ----------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """One policy of the caller's AAP: its templates on its resources in one key store, from its
    networks (None: from anywhere)."""

    permissions: frozenset[str]
    resources: tuple[str, ...]
    store_id: str
    networks: tuple[IpNetwork, ...] | None

    def reaches(self, source_ip: str) -> bool:
        if self.networks is None:
            return True
        address = _address(source_ip)
        return address is not None and any(address in network for network in self.networks)

    def covers(self, path: str) -> bool:
        kind = path.split("/", 1)[0]
        return any(pattern in (path, f"{kind}/*") for pattern in self.resources)


@dataclass(frozen=True, slots=True)
class Application:
    """The caller is an application signing with a client key of AAP ``aap_name``."""

    client_key_id: str
    aap_name: str
    grants: tuple[Grant, ...]
    # The key store of the instance the request addressed (its host name, else the default):
    # only that instance's keys are served.
    addressed_store: str | None = None

    def allows(self, permission: str, path: str, store_id: str | None, source_ip: str) -> bool:
        """Whether a policy grants ``permission`` on ``path`` (``key/<id>``, ``secret/<name>``)
        to a request from ``source_ip``; ``store_id`` is the key's store (None: not a key)."""
        if store_id is not None and self.addressed_store is not None and store_id != self.addressed_store:
            return False
        return any(
            permission in g.permissions
            and g.covers(path)
            and (store_id is None or store_id == g.store_id)
            and g.reaches(source_ip)
            for g in self.grants
        )

    def reachable(self, source_ip: str) -> bool:
        """Whether any policy's network rules admit the source at all (with no policy, nothing is
        granted anyway: the authorizer refuses each action)."""
        return not self.grants or any(g.reaches(source_ip) for g in self.grants)


def addressed_instance(host: str) -> str | None:
    """The instance id a gateway request's host names, as the cloud's do
    (``<kst-id>.cryptoservice.kms.aliyuncs.com``): its leading label when that is a ``kst-`` id;
    None (the default instance) for any other host, an address or a name of one's own."""
    label = host.split(":", 1)[0].split(".", 1)[0].lower()
    return label if label.startswith("kst-") else None


def permission_for(action: Action) -> str | None:
    """The template that grants ``action`` to an application: using a key (its cryptographic
    operations), reading a secret's value; nothing else is an application's to do."""
    if action.target is Target.KEY and action.op is Op.USE:
        return KEY_USER
    if action.name == "GetSecretValue":
        return SECRET_USER
    return None


# --- reading the parameters -----------------------------------------------------------------------


def check_name(name: str, parameter: str = "Name") -> str:
    if not _NAME.match(name):
        raise errors.InvalidParameter(parameter, "A name is 1 to 64 letters, digits and _ . / @ -.")
    return name


def check_description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise errors.InvalidParameter("Description", f"A description is at most {MAX_DESCRIPTION} characters.")
    return text


def string_list(text: str, parameter: str) -> tuple[str, ...]:
    """A JSON array of strings, as the SDK sends Policies, Permissions and Resources."""
    try:
        value: Any = json.loads(text)
    except ValueError:
        raise errors.InvalidParameter(parameter, "It is a JSON array of strings.") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidParameter(parameter, "It is a JSON array of strings.")
    if len(value) > MAX_LIST_ITEMS:
        raise errors.InvalidParameter(parameter, f"It holds at most {MAX_LIST_ITEMS} items.")
    return tuple(dict.fromkeys(value))


def aap_policies(text: str) -> tuple[str, ...]:
    names = string_list(text, "Policies")
    if not names or len(names) > MAX_POLICIES_PER_AAP:
        raise errors.InvalidParameter("Policies", f"An AAP has 1 to {MAX_POLICIES_PER_AAP} policies.")
    return tuple(check_name(n, "Policies") for n in names)


def permissions(text: str) -> tuple[str, ...]:
    found = string_list(text, "Permissions")
    if not found or any(p not in PERMISSIONS for p in found):
        raise errors.InvalidParameter("Permissions", f"Permissions are among {', '.join(PERMISSIONS)}.")
    return found


def resources(text: str) -> tuple[str, ...]:
    found = string_list(text, "Resources")
    for item in found:
        match = _RESOURCE.match(item)
        if not match or ("*" in item and item.split("/", 1)[1] != "*"):
            raise errors.InvalidParameter("Resources", "Resources are key/<KeyId>, key/*, secret/<name> or secret/*.")
    if not found:
        raise errors.InvalidParameter("Resources", "A policy names at least one resource.")
    return found


def access_control_rules(text: str | None) -> tuple[str, ...]:
    """``{"NetworkRules": ["name", ...]}``; absent or empty: no rule (from anywhere)."""
    if not text:
        return ()
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = None
    rules = value.get("NetworkRules", []) if isinstance(value, dict) else None
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise errors.InvalidParameter("AccessControlRules", 'It is {"NetworkRules": ["<rule name>", ...]}.')
    return tuple(check_name(r, "AccessControlRules") for r in dict.fromkeys(rules))


def rules_text(names: tuple[str, ...]) -> str:
    return json.dumps({"NetworkRules": list(names)}, separators=(",", ":"))


def source_private_ip(text: str) -> tuple[str, ...]:
    """Comma-separated IPs or CIDRs, each normalized (``10.0.0.7`` is ``10.0.0.7/32``)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items or len(items) > MAX_LIST_ITEMS:
        raise errors.InvalidParameter("SourcePrivateIp", f"Give 1 to {MAX_LIST_ITEMS} IPs or CIDR blocks.")
    try:
        return tuple(dict.fromkeys(str(ipaddress.ip_network(item, strict=False)) for item in items))
    except ValueError:
        raise errors.InvalidParameter("SourcePrivateIp", "Each item is an IP address or a CIDR block.") from None


# Parsing an address costs more than the rest of a rule check: a gateway request checks its
# source against its access point's rules every time, from a few addresses and rules.
@functools.lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _network(cidr: str) -> IpNetwork:
    return ipaddress.ip_network(cidr)


def networks(rules: list[NetworkRule]) -> tuple[IpNetwork, ...]:
    return tuple(_network(cidr) for rule in rules for cidr in rule.source_private_ip)


_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z")


def parse_time(text: str, parameter: str) -> int:
    """``yyyy-MM-ddTHH:mm:ssZ`` (UTC), or with an offset (``+0800``) as the console writes it."""
    for form in _TIME_FORMATS:
        try:
            parsed = time.strptime(text.strip(), form)
        except ValueError:
            continue
        return calendar.timegm(parsed) - (parsed.tm_gmtoff or 0)
    raise errors.InvalidParameter(parameter, "A time is yyyy-MM-ddTHH:mm:ssZ (UTC).")


def format_time(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def validity(not_before: int | None, not_after: int | None, now: int) -> tuple[int, int]:
    start = now if not_before is None else not_before
    end = start + DEFAULT_VALIDITY if not_after is None else not_after
    if end <= start:
        raise errors.InvalidParameter("NotAfter", "NotAfter is later than NotBefore.")
    return start, end


def check_password(password: str) -> None:
    """The client key's PKCS#12 password: 8 to 64 printable ASCII characters."""
    if not 8 <= len(password) <= 64 or not all(32 < ord(c) < 127 for c in password):
        raise errors.InvalidParameter("Password", "The password is 8 to 64 printable ASCII characters.")
