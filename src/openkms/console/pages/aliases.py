"""The Aliases page: the region's aliases a page at a time, each deletable."""

from __future__ import annotations

from starlette.responses import Response

from openkms.console import forms
from openkms.console.errors import message_of, status_of
from openkms.console.web import Ctx
from openkms.domain import errors, listing
from openkms.domain.aliases import Alias

ALIASES_PER_PAGE = 20
DELETED = "The alias was deleted."


async def aliases_list(ctx: Ctx) -> Response:
    return await show(ctx)


async def show(ctx: Ctx, problem: str = "", status: int = 200) -> Response:
    number = forms.page_number(ctx.query("page", "1"))
    s, caller = ctx.services, ctx.caller

    def load() -> tuple[list[Alias], int, frozenset[str]]:
        found, total = s.aliases.list_aliases(caller, listing.Page(number, ALIASES_PER_PAGE))
        return found, total, s.access.deletable_aliases(caller, [a.name for a in found])

    found, total, deletable = await ctx.run(load)
    context = ctx.page_context(
        "aliases",
        aliases=found,
        deletable=deletable,
        total=total,
        page=number,
        pages=max(1, -(-total // ALIASES_PER_PAGE)),
        page_url=lambda n: ctx.url("/aliases", page=str(n) if n > 1 else ""),
        problem=problem,
        done=DELETED if ctx.query("done") == "alias-deleted" else "",
    )
    return ctx.render("aliases.html", context, status)


async def delete(ctx: Ctx) -> Response:
    name = forms.text(ctx.form, "alias")
    try:
        await ctx.run(lambda: ctx.services.aliases.delete_alias(ctx.caller, name))
    except errors.KmsError as exc:
        return await show(ctx, message_of(exc), status_of(exc))
    return ctx.redirect("/aliases", done="alias-deleted")
