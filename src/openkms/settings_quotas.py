"""The ``[[quotas.account]]`` entries of the settings: one account's rates, replacing its profile's.

Each entry names the account (its uid, the AccountId of ``openkms accesskey``) and the classes it
changes, by the class's name (domain/quotas.py), each a number of requests per the class's period
(per second; RotateSecret per hour). A key that names no class is refused: a misspelt class would
otherwise leave the account at its profile's rate without a word.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING
from typing import Any

from openkms.domain.quotas import ALIBABA_SHARED, PERIOD, PROFILES, QuotaClass, Rate
from openkms.settings_options import FLOAT, POSITIVE, STR, Option, SettingsError, read_entry

QuotaOverride = tuple[str, QuotaClass, Rate]  # (account uid, class, rate)

# What the settings doc shows: the alibaba-shared profile's numbers.
_EXAMPLES = {cls: int(rate.count) for cls, rate in PROFILES[ALIBABA_SHARED].items()}
QUOTA_ACCOUNT_OPTIONS: tuple[Option, ...] = (
    Option("id", "quotas.account", "id", None, STR, MISSING, "The account's uid.", example="1234567890123456"),
    *(
        Option(
            cls.value,
            "quotas.account",
            cls.value,
            None,
            FLOAT,
            None,
            f"Requests per {'hour' if PERIOD[cls] == 3600 else 'second'} of class {cls.value}.",
            (POSITIVE,),
            example=_EXAMPLES.get(cls, 20),
        )
        for cls in QuotaClass
    ),
)
_KEYS = {row.key for row in QUOTA_ACCOUNT_OPTIONS}


def quota_overrides(entries: Any) -> tuple[QuotaOverride, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SettingsError("[[quotas.account]] must be a list of tables")
    found: list[QuotaOverride] = []
    seen: set[str] = set()
    for entry in entries:
        found.extend(_entry(entry, seen))
    return tuple(found)


def _entry(entry: Mapping[str, Any], seen: set[str]) -> list[QuotaOverride]:
    if "id" not in entry:
        raise SettingsError("[[quotas.account]] entries need an id (the account's uid)")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise SettingsError(
            f"[[quotas.account]] {unknown[0]!r} is not a quota class (known: {', '.join(c.value for c in QuotaClass)})"
        )
    values = read_entry(entry, QUOTA_ACCOUNT_OPTIONS)
    account = values.pop("id")
    if account in seen:
        raise SettingsError(f"two [[quotas.account]] entries have the id {account!r}")
    seen.add(account)
    rows = {row.name: row for row in QUOTA_ACCOUNT_OPTIONS}
    overrides: list[QuotaOverride] = []
    for name, count in values.items():
        if count is None:
            continue
        rows[name].check(count)
        cls = QuotaClass(name)
        overrides.append((account, cls, Rate(count, PERIOD[cls])))
    return overrides
