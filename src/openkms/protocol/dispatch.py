"""The explicit table from Action name to handler."""

from __future__ import annotations

from collections.abc import Mapping

from openkms.protocol.actions import (
    account,
    actiontrail,
    aliases,
    app_access,
    asymmetric,
    crypto,
    importing,
    instances,
    keys,
    ram,
    secrets,
    tags,
    versions,
)
from openkms.protocol.actions.context import Handler


def merge(*tables: Mapping[str, Handler]) -> dict[str, Handler]:
    """One table from each area's; an action two areas both claim is a programming error, not a
    silent win for the later one."""
    merged: dict[str, Handler] = {}
    for table in tables:
        for name, handler in table.items():
            if name in merged:
                raise ValueError(f"action {name} is handled twice")
            merged[name] = handler
    return merged


ACTIONS: dict[str, Handler] = merge(
    keys.ACTIONS,
    crypto.ACTIONS,
    asymmetric.ACTIONS,
    importing.ACTIONS,
    versions.ACTIONS,
    aliases.ACTIONS,
    tags.ACTIONS,
    account.ACTIONS,
    secrets.ACTIONS,
    instances.ACTIONS,
    app_access.ACTIONS,
)

# RAM 2015-05-01: a table of its own, since some names are KMS's too (CreatePolicy, ListPolicies).
RAM_ACTIONS: dict[str, Handler] = merge(ram.ACTIONS)
RAM_VERSION = "2015-05-01"

# ActionTrail 2020-07-06: reading the audit trail (LookupEvents).
ACTIONTRAIL_ACTIONS: dict[str, Handler] = merge(actiontrail.ACTIONS)
ACTIONTRAIL_VERSION = "2020-07-06"
