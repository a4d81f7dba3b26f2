"""RAM policy documents: parsed, checked and compiled once, or refused with the line of the problem.

The grammar is Alibaba RAM's (Version "1"; Statement with Effect, Action or NotAction, Resource or
NotResource, an optional Condition; Principal only in resource policies such as key policies).
Every choice made where RAM's documentation is silent is listed in docs/COMPATIBILITY.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from openkms.domain.ram import conditions
from openkms.domain.ram.positioned_json import JsonError, Node, line_of, parse
from openkms.domain.ram.wildcards import wildcard

MAX_IDENTITY_POLICY_BYTES = 6_144  # RAM: a custom policy document
MAX_RESOURCE_POLICY_BYTES = 32_768  # KMS: a key or secret policy
MAX_SID_LENGTH = 128
# A label: Alibaba documents the set [A-Za-z0-9_/+=.@-], yet its own default key policy's Sid is
# "Enable RAM User Permissions"; only the length is checked.
_ACTION = re.compile(r"\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+")


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


class Kind(StrEnum):
    IDENTITY = "identity"  # attached to users: no Principal, a Resource
    RESOURCE = "resource"  # a key's or secret's policy: a Principal


class MalformedPolicy(ValueError):
    """The document breaks the grammar; ``line`` is where (1 for a problem of the whole)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(f"line {line}: {message}")
        self.reason = message
        self.line = line


@dataclass(frozen=True, slots=True)
class Patterns:
    """Action, resource or principal patterns; ``negated`` for NotAction / NotResource.

    Compiled once: the patterns without wildcards into a set (one look-up), the others into one
    alternation (one regex match), since every request tests every statement of a caller's policies.
    """

    patterns: tuple[str, ...]
    negated: bool = False
    ignore_case: bool = False
    _literals: frozenset[str] = field(init=False, repr=False, compare=False)
    _wild: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _everything: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fold = str.casefold if self.ignore_case else str
        literals = frozenset(fold(p) for p in self.patterns if "*" not in p and "?" not in p)
        wild = [p for p in self.patterns if "*" in p or "?" in p]
        combined = "|".join(f"(?:{wildcard(p, self.ignore_case).pattern})" for p in wild)
        flags = re.IGNORECASE | re.DOTALL if self.ignore_case else re.DOTALL
        object.__setattr__(self, "_literals", literals)
        object.__setattr__(self, "_wild", re.compile(combined, flags) if wild else None)
        object.__setattr__(self, "_everything", "*" in self.patterns)

    def matches(self, value: str) -> bool:
        if self._everything:
            found = True
        else:
            key = value.casefold() if self.ignore_case else value
            found = key in self._literals or (self._wild is not None and self._wild.fullmatch(value) is not None)
        return found != self.negated


EVERYTHING = Patterns(("*",))


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Effect
    actions: Patterns
    resources: Patterns
    principals: Patterns | None  # resource policies only
    conditions: tuple[conditions.Condition, ...]
    sid: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]
    # The condition keys its statements test (lower case): what a request must tell it.
    condition_keys: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = frozenset(c.key for st in self.statements for c in st.conditions)
        object.__setattr__(self, "condition_keys", keys)


def compile_policy(text: str, kind: Kind = Kind.IDENTITY) -> Policy:
    """The compiled policy, or ``MalformedPolicy`` naming the line of the first problem."""
    limit = MAX_IDENTITY_POLICY_BYTES if kind is Kind.IDENTITY else MAX_RESOURCE_POLICY_BYTES
    if len(text.encode()) > limit:
        raise MalformedPolicy(f"the document is longer than {limit} bytes")
    try:
        root = parse(text)
    except JsonError as exc:
        raise MalformedPolicy(f"not valid JSON: {exc.message}", exc.line) from None
    return _Reader(text, kind).policy(root)


class _Reader:
    def __init__(self, text: str, kind: Kind) -> None:
        self.text = text
        self.kind = kind

    def fail(self, message: str, node: Node) -> MalformedPolicy:
        return MalformedPolicy(message, line_of(self.text, node.pos))

    def members(self, node: Node, what: str, allowed: set[str]) -> dict[str, Node]:
        if not isinstance(node.value, dict):
            raise self.fail(f"{what} must be a JSON object", node)
        for name, child in node.value.items():
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(f'{what} has an unknown element "{name}" (allowed: {known})', child)
        return node.value

    def policy(self, root: Node) -> Policy:
        top = self.members(root, "the document", {"Version", "Statement"})
        version = top.get("Version")
        if version is None or version.value != "1":
            raise self.fail('"Version" must be "1"', version or root)
        body = top.get("Statement")
        if body is None:
            raise self.fail('the document needs a "Statement"', root)
        items = body.value if isinstance(body.value, list) else [body]
        if not items:
            raise self.fail('"Statement" must not be empty', body)
        return Policy(tuple(self.statement(item) for item in items))

    def statement(self, node: Node) -> Statement:
        allowed = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
        if self.kind is Kind.RESOURCE:
            allowed.add("Principal")
        st = self.members(node, "a statement", allowed)
        effect = st.get("Effect")
        if effect is None or effect.value not in ("Allow", "Deny"):
            raise self.fail('"Effect" must be "Allow" or "Deny"', effect or node)
        actions = self.patterns(st, node, "Action", "NotAction", ignore_case=True)
        for pattern, child in zip(actions.patterns, self._pattern_nodes(st, "Action", "NotAction"), strict=True):
            if not _ACTION.fullmatch(pattern):
                raise self.fail(f'"{pattern}" is not an action: write <service>:<ApiName>, e.g. kms:Encrypt', child)
        if self.kind is Kind.IDENTITY or "Resource" in st or "NotResource" in st:
            resources = self.patterns(st, node, "Resource", "NotResource")
        else:
            resources = EVERYTHING  # a key policy's statements are about the key itself
        principals = None
        if self.kind is Kind.RESOURCE:
            principals = self.principal(st.get("Principal"), node)
        return Statement(
            Effect(effect.value), actions, resources, principals, self.conditions(st.get("Condition")), self.sid(st)
        )

    def sid(self, st: dict[str, Node]) -> str:
        sid = st.get("Sid")
        if sid is None:
            return ""
        if not isinstance(sid.value, str) or len(sid.value) > MAX_SID_LENGTH:
            raise self.fail(f'"Sid" is a string of at most {MAX_SID_LENGTH} characters', sid)
        return sid.value

    def _pattern_nodes(self, st: dict[str, Node], name: str, negated: str) -> list[Node]:
        node = st.get(name) or st[negated]
        return node.value if isinstance(node.value, list) else [node]

    def patterns(self, st: dict[str, Node], node: Node, name: str, negated: str, ignore_case: bool = False) -> Patterns:
        if (name in st) == (negated in st):
            raise self.fail(f'a statement has exactly one of "{name}" and "{negated}"', node)
        values = self.strings(st.get(name) or st[negated], name if name in st else negated)
        return Patterns(tuple(values), negated=negated in st, ignore_case=ignore_case)

    def strings(self, node: Node, what: str) -> list[str]:
        items = node.value if isinstance(node.value, list) else [node]
        if not items:
            raise self.fail(f'"{what}" must not be empty', node)
        for item in items:
            if not isinstance(item.value, str) or not item.value:
                raise self.fail(f'"{what}" takes a string or a list of non-empty strings', item)
        return [item.value for item in items]

    def principal(self, node: Node | None, statement: Node) -> Patterns:
        if node is None:
            raise self.fail('a key policy statement needs a "Principal"', statement)
        if isinstance(node.value, str) and node.value == "*":
            return EVERYTHING
        principal = self.members(node, '"Principal"', {"RAM"})
        if "RAM" not in principal:
            raise self.fail('"Principal" names RAM principals: {"RAM": ["acs:ram::<uid>:*"]}', node)
        values = self.strings(principal["RAM"], "RAM")
        for value, child in zip(values, self._items(principal["RAM"]), strict=True):
            if value != "*" and not value.startswith("acs:ram::"):
                raise self.fail(f'"{value}" is not a RAM principal (acs:ram::<uid>:<*|root|user/name>)', child)
        return Patterns(tuple(values))

    def _items(self, node: Node) -> list[Node]:
        return node.value if isinstance(node.value, list) else [node]

    def conditions(self, node: Node | None) -> tuple[conditions.Condition, ...]:
        if node is None:
            return ()
        if not isinstance(node.value, dict) or not node.value:
            raise self.fail('"Condition" is an object of operators', node)
        out: list[conditions.Condition] = []
        for operator, block in node.value.items():
            if operator not in conditions.OPERATORS:
                raise self.fail(f'"{operator}" is not a condition operator', block)
            if not isinstance(block.value, dict) or not block.value:
                raise self.fail(f'"{operator}" takes an object of condition keys', block)
            for key, values in block.value.items():
                raw = [v.value for v in self._items(values)]
                if not raw or any(isinstance(v, (dict, list)) or v is None for v in raw):
                    raise self.fail(f'"{key}" takes a value or a list of values', values)
                try:
                    out.append(conditions.make(operator, key, [_text(v) for v in raw]))
                except ValueError as exc:
                    raise self.fail(str(exc), values) from None
        return tuple(out)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
