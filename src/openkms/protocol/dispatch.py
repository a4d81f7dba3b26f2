"""The explicit table from Action name to handler."""

from __future__ import annotations

from openkms.protocol.actions import account, aliases, asymmetric, crypto, importing, keys, tags, versions
from openkms.protocol.actions.context import Handler

ACTIONS: dict[str, Handler] = {
    **keys.ACTIONS,
    **crypto.ACTIONS,
    **asymmetric.ACTIONS,
    **importing.ACTIONS,
    **versions.ACTIONS,
    **aliases.ACTIONS,
    **tags.ACTIONS,
    **account.ACTIONS,
}
