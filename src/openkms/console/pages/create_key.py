"""The Create Key dialog, over the Keys page: its choices, each enabled or with the reason the
server refuses it, all from one ``KeyService.create_options`` call; and CreateKey when OK is
pressed, with a refusal shown next to the field it concerns."""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import Response

from openkms.console import forms
from openkms.console.errors import CREATE_KEY_FIELDS, field_message, status_of
from openkms.console.pages import keys
from openkms.console.web import Ctx
from openkms.domain import errors
from openkms.domain.specs import DEFAULT_ORIGIN, KeyUsage, Origin, ProtectionLevel
from openkms.service.keys import CreateOptions, SpecChoice

log = logging.getLogger("openkms.console")

# key store id -> spec -> protection level (its value, as the page's script reads it) -> reason
StoreLevels = dict[str, dict[str, dict[str, str | None]]]


async def dialog(ctx: Ctx) -> Response:
    return await _show(ctx, forms.CreateKeyForm())


async def create(ctx: Ctx) -> Response:
    form = forms.CreateKeyForm.from_form(ctx.form)
    try:
        req = form.request()
        key = await ctx.run(lambda: ctx.services.keys.create_key(ctx.caller, req))
    except forms.FormError as exc:
        form.errors = exc.fields
        return await _show(ctx, form, 400)
    except errors.KmsError as exc:
        form.errors = {CREATE_KEY_FIELDS.field_of(exc, "form"): field_message(exc)}
        return await _show(ctx, form, status_of(exc))
    log.info("console: %s created key %s in %s", ctx.caller.access_key_id, key.id, ctx.region.id)
    return ctx.redirect(f"/keys/{key.id}", done="created")


async def _show(ctx: Ctx, form: forms.CreateKeyForm, status: int = 200) -> Response:
    options = await ctx.run(lambda: ctx.services.keys.create_options(ctx.caller))
    return await keys.show(ctx, status, dialog_context(form, options))


def _usage_problems(choice: SpecChoice) -> dict[str, str | None]:
    """The Purpose choices of a spec, said in the dialog's words when the spec itself is fine."""
    allowed = " or ".join(forms.USAGE_LABELS[u] for u in choice.spec.usages)
    out: dict[str, str | None] = {}
    for usage in KeyUsage:
        problem = choice.usages[usage]
        if problem is not None and choice.problem is None and usage not in choice.spec.usages:
            problem = f"{choice.spec.name} keys allow only {allowed}."
        out[usage.value] = problem
    return out


def _selectable(wanted: str, choices: list[tuple[str, str, str | None]]) -> str:
    """``wanted`` if it is an available choice, else the first available one (or nothing)."""
    available = [value for value, _label, problem in choices if problem is None]
    if wanted in available:
        return wanted
    return available[0] if available else ""


def _store_levels(options: CreateOptions) -> StoreLevels:
    return {
        store: {spec: {lv.value: problem for lv, problem in levels.items()} for spec, levels in specs.items()}
        for store, specs in options.store_levels.items()
    }


def dialog_context(form: forms.CreateKeyForm, options: CreateOptions) -> dict[str, Any]:
    """What the Create Key dialog shows for the chosen spec and key store: each choice, enabled or
    with its reason."""
    store_levels = _store_levels(options)
    chosen = options.get(form.spec) or options.specs[0]
    store = form.key_store if form.key_store in store_levels else forms.DEFAULT_KEY_STORE
    spec_data = {
        c.spec.name: {
            "symmetric": c.spec.symmetric,
            "problem": c.problem,
            "usages": _usage_problems(c),
            "levels": {sid: levels[c.spec.name] for sid, levels in store_levels.items()},
            "origins": {o.value: c.origins[o] for o in Origin},
            "defaultUsage": c.spec.default_usage.value,
        }
        for c in options.specs
    }
    usage_problems = _usage_problems(chosen)
    usage_choices = [(u.value, forms.USAGE_LABELS[u], usage_problems[u.value]) for u in KeyUsage]
    chosen_levels = store_levels.get(store, {}).get(chosen.spec.name) or {
        lv.value: chosen.levels[lv] for lv in ProtectionLevel
    }
    level_choices = [(lv.value, forms.LEVEL_LABELS[lv], chosen_levels[lv.value]) for lv in ProtectionLevel]
    origin_choices = [(o.value, forms.ORIGIN_LABELS[o], chosen.origins[o]) for o in Origin]
    return {
        "dialog": form,
        "options": options,
        "chosen": chosen,
        "spec_data": spec_data,
        # What was chosen stays chosen if the spec allows it; else the spec's default is selected.
        "chosen_usage": _selectable(form.usage or chosen.spec.default_usage.value, usage_choices),
        "chosen_level": _selectable(form.protection_level, level_choices),
        "chosen_origin": _selectable(form.origin, origin_choices),
        "default_origin": DEFAULT_ORIGIN.value,
        "symmetric_specs": [c for c in options.specs if c.spec.symmetric],
        "asymmetric_specs": [c for c in options.specs if not c.spec.symmetric],
        "usage_choices": usage_choices,
        "level_choices": level_choices,
        "origin_choices": origin_choices,
        "key_stores": forms.key_store_labels(options.key_stores),
        "rotation_choices": forms.ROTATION_CHOICES,
        "min_rotation_days": forms.MIN_ROTATION_DAYS,
        "max_rotation_days": forms.MAX_ROTATION_DAYS,
        "external_ack_label": forms.EXTERNAL_ACK,
        "external_offered": chosen.origins[Origin.EXTERNAL] is None,
    }
