"""RAM's condition operators: String*, Numeric*, Date*, Bool and IpAddress/NotIpAddress.

Semantics (RAM documents the operators, not every corner; docs/COMPATIBILITY.md lists the choices):

* one key's values are alternatives: the condition holds when a value the request carries for the
  key matches any listed value (several values in the request: any of them);
* a negated operator (StringNotEquals, StringNotEqualsIgnoreCase, StringNotLike, NumericNotEquals,
  DateNotEquals, NotIpAddress) holds exactly when its positive form does not — so also when the
  request carries no value for the key;
* a positive operator on a key the request does not carry does not hold;
* condition key names are compared without regard to case; String* values with it
  (``StringEquals``, ``StringLike``) or without (the ``IgnoreCase`` forms).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openkms.domain.ram.wildcards import wildcard

Context = Mapping[str, Sequence[str]]  # lower-case condition key -> the request's values


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _instant(text: str) -> datetime | None:
    """ISO 8601 with an offset or Z (naive times are UTC), or seconds since the epoch."""
    text = text.strip()
    number = _decimal(text)
    if number is not None:
        try:
            return datetime.fromtimestamp(float(number), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


Parser = Callable[[str], Any]  # a value of the family, or None


@dataclass(frozen=True, slots=True)
class _Family:
    parse: Parser  # a listed value (None: not a value of this family)
    request: Parser  # a request's value (None: it does not compare)
    what: str  # for the refusal of a listed value
    test: Callable[[Any, Any], bool]  # (request value, listed value)
    negated: bool = False


def _boolean(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.strip().lower())


# The value kinds: (parse a listed value, parse a request's value, what a listed value must be).
_STRING: tuple[Parser, Parser, str] = (str, str, "a string")
_FOLDED: tuple[Parser, Parser, str] = (str.casefold, str.casefold, "a string")
_NUMBER: tuple[Parser, Parser, str] = (_decimal, _decimal, "a number")
_DATE: tuple[Parser, Parser, str] = (_instant, _instant, "a date (ISO 8601, e.g. 2026-01-31T00:00:00Z)")
_BOOL: tuple[Parser, Parser, str] = (_boolean, _boolean, "true or false")
_IP: tuple[Parser, Parser, str] = (_network, _address, "an IP address or CIDR")


def _equal(a: Any, b: Any) -> bool:
    return bool(a == b)


def _like(value: str, pattern: str) -> bool:
    return wildcard(pattern, False).fullmatch(value) is not None


OPERATORS: dict[str, _Family] = {
    "StringEquals": _Family(*_STRING, _equal),
    "StringNotEquals": _Family(*_STRING, _equal, negated=True),
    "StringEqualsIgnoreCase": _Family(*_FOLDED, _equal),
    "StringNotEqualsIgnoreCase": _Family(*_FOLDED, _equal, negated=True),
    "StringLike": _Family(*_STRING, _like),
    "StringNotLike": _Family(*_STRING, _like, negated=True),
    "NumericEquals": _Family(*_NUMBER, _equal),
    "NumericNotEquals": _Family(*_NUMBER, _equal, negated=True),
    "NumericLessThan": _Family(*_NUMBER, lambda v, p: v < p),
    "NumericLessThanEquals": _Family(*_NUMBER, lambda v, p: v <= p),
    "NumericGreaterThan": _Family(*_NUMBER, lambda v, p: v > p),
    "NumericGreaterThanEquals": _Family(*_NUMBER, lambda v, p: v >= p),
    "DateEquals": _Family(*_DATE, _equal),
    "DateNotEquals": _Family(*_DATE, _equal, negated=True),
    "DateLessThan": _Family(*_DATE, lambda v, p: v < p),
    "DateLessThanEquals": _Family(*_DATE, lambda v, p: v <= p),
    "DateGreaterThan": _Family(*_DATE, lambda v, p: v > p),
    "DateGreaterThanEquals": _Family(*_DATE, lambda v, p: v >= p),
    "Bool": _Family(*_BOOL, _equal),
    "IpAddress": _Family(*_IP, lambda v, p: v in p),
    "NotIpAddress": _Family(*_IP, lambda v, p: v in p, negated=True),
}


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str
    key: str  # lower case
    values: tuple[Any, ...]  # parsed

    def holds(self, context: Context) -> bool:
        family = OPERATORS[self.operator]
        found = False
        for raw in context.get(self.key, ()):
            value = family.request(raw)
            if value is not None and any(_safe(family.test, value, listed) for listed in self.values):
                found = True
                break
        return found != family.negated


def _safe(test: Callable[[Any, Any], bool], value: Any, listed: Any) -> bool:
    try:
        return test(value, listed)
    except TypeError:  # an IPv6 address against an IPv4 network, for one
        return False


def make(operator: str, key: str, values: Sequence[str]) -> Condition:
    """A condition, or ValueError naming the value that is not of the operator's family."""
    family = OPERATORS[operator]
    if not key or ":" not in key:
        raise ValueError(f'"{key}" is not a condition key: write <service>:<key>, e.g. acs:SourceIp')
    parsed = []
    for value in values:
        made = family.parse(value)
        if made is None:
            raise ValueError(f'{operator} takes {family.what}; "{value}" is not one')
        parsed.append(made)
    return Condition(operator, key.lower(), tuple(parsed))
