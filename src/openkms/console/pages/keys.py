"""The Keys page: the region's keys, newest first, a page at a time, filtered by state and spec
and searched by key id or alias (the service does both). The Create Key dialog opens over it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from openkms.console import forms
from openkms.console.web import Ctx
from openkms.domain import listing
from openkms.domain.keys import Key
from openkms.domain.specs import SPECS
from openkms.domain.states import KeyState

KEYS_PER_PAGE = 10


async def keys_list(ctx: Ctx) -> Response:
    return await show(ctx)


async def show(ctx: Ctx, status: int = 200, dialog: Mapping[str, Any] | None = None) -> Response:
    """The page; ``dialog`` is the Create Key dialog's context when the dialog is open."""
    state, spec, search = ctx.query("state"), ctx.query("spec"), ctx.query("q").strip()
    wanted = forms.page_number(ctx.query("page", "1"))
    filters = []
    if state in {s.value for s in KeyState}:
        filters.append(listing.Filter("KeyState", (state,)))
    if spec in SPECS:
        filters.append(listing.Filter("KeySpec", (spec,)))
    keys, aliases = ctx.services.keys, ctx.services.aliases

    def listed(number: int) -> tuple[list[Key], int]:
        page = listing.Page(number, KEYS_PER_PAGE)
        return keys.list_keys(ctx.caller, page, filters, search, newest_first=True, describable=True)

    def load() -> tuple[int, list[Key], int, dict[str, list[str]], frozenset[str]]:
        number = wanted
        rows, total = listed(number)
        if not rows and number > _pages(total):  # a link past the end shows the last page
            number = _pages(total)
            rows, total = listed(number)
        allowed = ctx.services.access.on_keys(ctx.caller, ("CreateKey", "ListAliases"))
        names = aliases.names_by_key(ctx.caller, [k.id for k in rows]) if "ListAliases" in allowed else {}
        return number, rows, total, names, allowed

    number, rows, total, names, allowed = await ctx.run(load)
    query = {"state": state, "spec": spec, "q": search}
    context = ctx.page_context(
        "keys",
        keys=rows,
        aliases=names,
        total=total,
        page=number,
        pages=_pages(total),
        page_url=lambda n: ctx.url("/keys", **query, page=str(n) if n > 1 else ""),
        state=state,
        spec=spec,
        search=search,
        states=[s.value for s in KeyState],
        specs=list(SPECS),
        filtered=bool(state or spec or search),
        may_create="CreateKey" in allowed,
        **{"dialog": None, "options": None, **(dialog or {})},
    )
    return ctx.render("keys.html", context, status)


def _pages(total: int) -> int:
    return max(1, -(-total // KEYS_PER_PAGE))
