"""The console's pages and actions. Every one calls the same service methods as the RPC API, with
a ``Caller`` built from the signed-in AccessKey and the region in the URL."""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio.to_thread
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from openkms.console import forms
from openkms.console.auth import COOKIE_NAME, ENDED_MESSAGES, Ended, Session, SessionManager
from openkms.domain import errors, keys, listing, rotation
from openkms.domain.identity import Caller
from openkms.domain.keys import Key
from openkms.domain.regions import Region
from openkms.domain.specs import SPECS, KeyUsage, Origin, ProtectionLevel
from openkms.domain.states import KeyState
from openkms.service.container import Services
from openkms.service.importing import ImportParameters
from openkms.service.keys import CreateKeyRequest, CreateOptions, SpecChoice

log = logging.getLogger("openkms.console")

T = TypeVar("T")
KEYS_PER_PAGE = 10
ALIASES_PER_PAGE = 20
SECTIONS = ("keys", "aliases")

FORBIDDEN_CSRF = (
    "This form's security token is missing or does not match your session, so the request was refused. "
    "This happens when a page was opened before you logged on again, or when another site tries to submit "
    "a form on your behalf. Go back, reload the page and try again."
)
FORBIDDEN_NO_COOKIE = (
    "Your browser did not send the console's session cookie, so the request was refused. "
    "Allow cookies for this site, reload the log-on page and try again."
)

INTERNAL_FAILURE = "Internal failure. The details are in the server log."

DONE_MESSAGES = {
    "created": "The key was created.",
    "enable": "The key is enabled.",
    "disable": "The key is disabled.",
    "schedule-deletion": "The key is scheduled for deletion.",
    "cancel-deletion": "The scheduled deletion was cancelled.",
    "protection": "Deletion protection was updated.",
    "description": "The description was updated.",
    "rotation": "The rotation policy was updated.",
    "alias-add": "The alias was added.",
    "alias-remove": "The alias was removed.",
    "tag-add": "The tag was saved.",
    "tag-remove": "The tag was removed.",
    "alias-deleted": "The alias was deleted.",
    "import-parameters": "The import parameters are ready: download the wrapping public key and the import token.",
    "import-material": "The key material was imported.",
    "delete-material": "The key material was deleted. Import the same material again to use the key.",
}

DELETE_MATERIAL_UNCONFIRMED = "Select the check box to confirm that the key material is to be deleted."

# The import parameters' downloads: file name -> (what it holds, media type, download name).
IMPORT_FILES = {
    "publickey.der": ("public key", "application/octet-stream", "publickey-{key}.der"),
    "publickey.pem": ("public key", "application/x-pem-file", "publickey-{key}.pem"),
    "importtoken.txt": ("token", "text/plain; charset=utf-8", "importtoken-{key}.txt"),
}


def status_of(exc: errors.KmsError) -> int:
    if isinstance(exc, errors.NotFound):
        return 404
    if isinstance(exc, errors.StateRejected):
        return 409
    if isinstance(exc, errors.DeletionProtected):
        return 403
    if isinstance(exc, errors.BackendUnavailable):
        return 503
    if isinstance(exc, errors.IntegrityError):
        return 500
    return 400


def message_of(exc: errors.KmsError) -> str:
    if isinstance(exc, errors.IntegrityError):
        return INTERNAL_FAILURE
    return exc.message


def field_message(exc: errors.KmsError) -> str:
    """Next to a field, the reason alone: the field already says which parameter it is."""
    return exc.detail or message_of(exc)


@dataclass
class Ctx:
    """One signed-in request: who, where, and the posted form."""

    request: Request
    session: Session
    caller: Caller
    region: Region
    form: Mapping[str, Any] = field(default_factory=dict)

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)


Handler = Callable[[Ctx], Awaitable[Response]]


class Console:
    def __init__(self, services: Services, sessions: SessionManager, templates: Jinja2Templates, offload: bool) -> None:
        self._s = services
        self._sessions = sessions
        self._templates = templates
        self._offload = offload

    # --- plumbing -------------------------------------------------------------------------------

    async def _run(self, call: Callable[[], T]) -> T:
        """Service calls block (database, key generation): off the event loop unless they are quick."""
        if self._offload:
            return await anyio.to_thread.run_sync(call)
        return call()

    @staticmethod
    def _base(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    def _url(self, request: Request, path: str, **query: str) -> str:
        clean = {k: v for k, v in query.items() if v}
        return self._base(request) + path + (f"?{urlencode(clean)}" if clean else "")

    def _set_cookie(self, request: Request, response: Response, session: Session | None) -> None:
        path = self._base(request) or "/"
        if session is None:
            response.delete_cookie(COOKIE_NAME, path=path, httponly=True, samesite="lax")
            return
        response.set_cookie(
            COOKIE_NAME,
            self._sessions.encode(session),
            max_age=max(0, session.expires_at - self._sessions.now()),
            path=path,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )

    def _render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return self._templates.TemplateResponse(request, name, context, status_code=status)

    def _page_context(self, ctx: Ctx, section: str, **extra: Any) -> dict[str, Any]:
        regions = self._s.regions.regions
        return {
            "base": self._base(ctx.request),
            "csrf_token": self._sessions.csrf_token(ctx.session),
            "access_key_id": ctx.session.access_key_id,
            "account_uid": ctx.session.account_uid,
            "region": ctx.region,
            "mainland_regions": [r for r in regions if r.mainland_china],
            "other_regions": [r for r in regions if not r.mainland_china],
            "section": section,
            **extra,
        }

    def _error_page(
        self, request: Request, status: int, title: str, message: str, session: Session | None = None
    ) -> Response:
        context: dict[str, Any] = {"base": self._base(request), "title": title, "message": message}
        if session is not None and session.signed_in:
            context["access_key_id"] = session.access_key_id
        return self._render(request, "error.html", context, status)

    def _to_login(self, request: Request, ended: Ended | None = None, next_path: str = "") -> Response:
        query = {"ended": ended.value if ended else "", "next": next_path}
        response = RedirectResponse(self._url(request, "/login", **query), status_code=303)
        if ended is not None:
            self._set_cookie(request, response, None)
        return response

    def page(self, handler: Handler, *, regional: bool = True) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler: signed-in session still valid, region known, CSRF token on every POST."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = self._sessions.decode(request.cookies.get(COOKIE_NAME))
            if session is None or not session.signed_in:
                next_path = request.url.path if request.method == "GET" else ""
                return self._to_login(request, None, next_path)
            ended = await self._run(lambda: self._sessions.still_valid(session))
            if ended is not None:
                return self._to_login(request, ended)
            form: FormData | None = None
            if request.method == "POST":
                form = await request.form()
                token = form.get("csrf_token")
                if not isinstance(token, str) or not self._sessions.csrf_ok(session, token):
                    log.warning("console: refused a POST to %s without a valid CSRF token", request.url.path)
                    return self._error_page(request, 403, "Request refused", FORBIDDEN_CSRF, session)
            region_id = request.path_params.get("region") if regional else None
            try:
                region = self._s.regions.get(region_id or self._s.regions.default)
            except errors.InvalidRegion as exc:
                return self._error_page(request, 404, "Unknown region", exc.message, session)
            caller = Caller(session.account_uid, region.id, session.access_key_id)
            ctx = Ctx(request, session, caller, region, form or {})
            try:
                return await handler(ctx)
            except errors.KmsError as exc:
                return self._error_page(request, status_of(exc), "The request failed", message_of(exc), session)

        return endpoint

    def not_found(self, request: Request) -> Response:
        return self._error_page(request, 404, "Not found", "There is no such page in the console.")

    def internal_error(self, request: Request) -> Response:
        return self._error_page(request, 500, "Internal failure", INTERNAL_FAILURE)

    # --- log on / log off -----------------------------------------------------------------------

    def _safe_next(self, request: Request, next_path: str) -> str:
        base = self._base(request)
        if next_path.startswith(base + "/") and not next_path.startswith("//") and "\\" not in next_path:
            return next_path
        return self._url(request, f"/{self._s.regions.default}/keys")

    async def index(self, request: Request) -> Response:
        session = self._sessions.decode(request.cookies.get(COOKIE_NAME))
        if session is not None and session.signed_in and not self._sessions.expired(session):
            return RedirectResponse(self._url(request, f"/{self._s.regions.default}/keys"), status_code=303)
        return RedirectResponse(self._url(request, "/login"), status_code=303)

    def _login_form(
        self, request: Request, session: Session, status: int = 200, error: str = "", access_key_id: str = ""
    ) -> Response:
        ended = request.query_params.get("ended", "")
        notice = ENDED_MESSAGES.get(Ended(ended), "") if ended in Ended.__members__.values() else ""
        context = {
            "base": self._base(request),
            "csrf_token": self._sessions.csrf_token(session),
            "error": error,
            "notice": notice,
            "next": request.query_params.get("next", ""),
            "access_key_id": "",
            "typed_access_key_id": access_key_id,
        }
        response = self._render(request, "login.html", context, status)
        self._set_cookie(request, response, session)
        return response

    async def login(self, request: Request) -> Response:
        session = self._sessions.decode(request.cookies.get(COOKIE_NAME))
        if request.method == "GET":
            if session is not None and not self._sessions.expired(session):
                if session.signed_in and await self._run(lambda: self._sessions.still_valid(session)) is None:
                    return RedirectResponse(self._safe_next(request, request.query_params.get("next", "")), 303)
                if not session.signed_in:
                    return self._login_form(request, session)
            return self._login_form(request, self._sessions.anonymous())

        form = await request.form()
        if session is None:
            return self._error_page(request, 403, "Request refused", FORBIDDEN_NO_COOKIE)
        token = form.get("csrf_token")
        if not isinstance(token, str) or not self._sessions.csrf_ok(session, token):
            return self._error_page(request, 403, "Request refused", FORBIDDEN_CSRF)
        access_key_id = forms.text(form, "access_key_id")
        if self._sessions.expired(session):
            return self._login_form(
                request, self._sessions.anonymous(), 400, "The log-on form had expired. Try again.", access_key_id
            )
        result = await self._run(lambda: self._sessions.log_on(access_key_id, forms.text(form, "access_key_secret")))
        if result.session is None:
            log.info("console: failed log-on for AccessKey %r", access_key_id[:64])
            return self._login_form(request, session, 401, result.error, access_key_id)
        log.info("console: %s logged on", result.session.access_key_id)
        response = RedirectResponse(self._safe_next(request, forms.text(form, "next")), status_code=303)
        self._set_cookie(request, response, result.session)
        return response

    async def logout(self, ctx: Ctx) -> Response:
        response = RedirectResponse(self._url(ctx.request, "/login", ended=Ended.SIGNED_OUT.value), status_code=303)
        self._set_cookie(ctx.request, response, self._sessions.anonymous())
        return response

    async def switch_region(self, ctx: Ctx) -> Response:
        wanted = ctx.query("region")
        section = ctx.query("to", "keys")
        try:
            region = self._s.regions.get(wanted)
        except errors.InvalidRegion as exc:
            return self._error_page(ctx.request, 404, "Unknown region", exc.message, ctx.session)
        section = section if section in SECTIONS else "keys"
        return RedirectResponse(self._url(ctx.request, f"/{region.id}/{section}"), status_code=303)

    # --- keys -----------------------------------------------------------------------------------

    def _all_keys(self, caller: Caller, filters: list[listing.Filter]) -> list[Key]:
        found: list[Key] = []
        number = 1
        while True:
            page, total = self._s.keys.list_keys(caller, listing.Page(number, listing.MAX_PAGE_SIZE), filters)
            found.extend(page)
            if not page or len(found) >= total:
                return found
            number += 1

    def _aliases_by_key(self, caller: Caller) -> dict[str, list[str]]:
        by_key: dict[str, list[str]] = {}
        number = 1
        seen = 0
        while True:
            page, total = self._s.aliases.list_aliases(caller, listing.Page(number, listing.MAX_PAGE_SIZE))
            for alias in page:
                by_key.setdefault(alias.key_id, []).append(alias.name)
            seen += len(page)
            if not page or seen >= total:
                return by_key
            number += 1

    async def keys_page(self, ctx: Ctx, dialog: forms.CreateKeyForm | None = None, status: int = 200) -> Response:
        state, spec, search = ctx.query("state"), ctx.query("spec"), ctx.query("q").strip()
        page = forms.page_number(ctx.query("page", "1"))
        filters = []
        if state in {s.value for s in KeyState}:
            filters.append(listing.Filter("KeyState", (state,)))
        if spec in SPECS:
            filters.append(listing.Filter("KeySpec", (spec,)))

        def load() -> tuple[list[Key], dict[str, list[str]], CreateOptions | None, StoreLevels]:
            found = self._all_keys(ctx.caller, filters)
            aliases = self._aliases_by_key(ctx.caller)
            options = self._s.keys.capabilities(ctx.region.id) if dialog is not None else None
            levels = self._store_levels(ctx.region.id, options) if options is not None else {}
            return found, aliases, options, levels

        found, aliases, options, store_levels = await self._run(load)
        if search:
            needle = search.lower()
            found = [
                k for k in found if needle in k.id.lower() or any(needle in a.lower() for a in aliases.get(k.id, []))
            ]
        found.sort(key=lambda k: (-k.created_at, k.id))
        pages = max(1, -(-len(found) // KEYS_PER_PAGE))
        page = min(page, pages)
        rows = found[(page - 1) * KEYS_PER_PAGE : page * KEYS_PER_PAGE]
        query = {"state": state, "spec": spec, "q": search}
        context = self._page_context(
            ctx,
            "keys",
            keys=rows,
            aliases=aliases,
            total=len(found),
            page=page,
            pages=pages,
            page_url=lambda n: self._url(ctx.request, f"/{ctx.region.id}/keys", **query, page=str(n) if n > 1 else ""),
            state=state,
            spec=spec,
            search=search,
            states=[s.value for s in KeyState],
            specs=list(SPECS),
            filtered=bool(state or spec or search),
            dialog=dialog,
            options=options,
            **(dialog_context(dialog, options, store_levels) if dialog is not None and options is not None else {}),
        )
        return self._render(ctx.request, "keys.html", context, status)

    def _store_levels(self, region: str, options: CreateOptions) -> StoreLevels:
        """For each key store of the KeyStore list and each spec: the Protection Levels CreateKey
        takes there, or why not (the same checks CreateKey runs; nothing is generated)."""

        def problem(store_id: str, spec: str, level: ProtectionLevel) -> str | None:
            req = CreateKeyRequest(spec=spec, protection_level=level, key_store_id=store_id)
            try:
                self._s.keys.check_create(region, req)
            except errors.KmsError as exc:
                return exc.detail or exc.message
            return None

        out: StoreLevels = {}
        for store_id in forms.key_store_labels(options.key_stores):
            out[store_id] = {
                c.spec.name: {
                    lv.value: c.levels[lv]
                    if store_id == forms.DEFAULT_KEY_STORE
                    else problem(store_id, c.spec.name, lv)
                    for lv in ProtectionLevel
                }
                for c in options.specs
            }
        return out

    async def keys_list(self, ctx: Ctx) -> Response:
        return await self.keys_page(ctx)

    async def create_key_dialog(self, ctx: Ctx) -> Response:
        return await self.keys_page(ctx, forms.CreateKeyForm())

    async def create_key(self, ctx: Ctx) -> Response:
        dialog = forms.CreateKeyForm.from_form(ctx.form)
        try:
            req = dialog.request()
            key = await self._run(lambda: self._s.keys.create_key(ctx.caller, req))
        except forms.FormError as exc:
            dialog.errors = exc.fields
            return await self.keys_page(ctx, dialog, 400)
        except errors.KmsError as exc:
            dialog.errors = {forms.field_of(exc): field_message(exc)}
            return await self.keys_page(ctx, dialog, status_of(exc))
        log.info("console: %s created key %s in %s", ctx.caller.access_key_id, key.id, ctx.region.id)
        return RedirectResponse(self._key_url(ctx, key.id, done="created"), status_code=303)

    def _key_url(self, ctx: Ctx, key_id: str, **query: str) -> str:
        return self._url(ctx.request, f"/{ctx.region.id}/keys/{key_id}", **query)

    async def key_page(self, ctx: Ctx, problems: dict[str, str] | None = None, status: int = 200) -> Response:
        ref = ctx.request.path_params["key_id"]
        params_id = ctx.query("params")  # an issue of import parameters to offer for download

        def load() -> dict[str, Any]:
            key = self._s.keys.describe_key(ctx.caller, ref)
            _, versions, _ = self._s.versions.list_versions(ctx.caller, key.id, listing.Page(1, listing.MAX_PAGE_SIZE))
            aliases, _ = self._s.aliases.list_aliases_by_key(ctx.caller, key.id, listing.Page(1, listing.MAX_PAGE_SIZE))
            _, tags = self._s.tags.list_tags(ctx.caller, key.id)
            params: ImportParameters | None = None
            params_problem = ""
            if params_id and key.origin is Origin.EXTERNAL:
                try:
                    params = self._s.importing.issued_parameters(ctx.caller, key.id, params_id)
                except (errors.InvalidImportToken, errors.ExpiredImportToken) as exc:
                    params_problem = f"{message_of(exc)} Get new import parameters."
            return {
                "key": key,
                "versions": versions,
                "key_aliases": aliases,
                "tags": tags,
                "params": params,
                "params_problem": params_problem,
                "key_stores": self._s.keys.key_stores(),
            }

        data = await self._run(load)
        key: Key = data["key"]
        params = data["params"]
        wrapping = forms.wrapping_choices(ctx.region.mainland_china)
        done = ctx.query("done")
        context = self._page_context(
            ctx,
            "keys",
            **data,
            done=DONE_MESSAGES.get(done, "") if not problems else "",
            problems=problems or {},
            form=ctx.form,
            key_url=self._key_url(ctx, key.id),
            usage_label=forms.USAGE_LABELS.get(key.usage, key.usage.value),
            level_label=forms.LEVEL_LABELS.get(key.protection_level, key.protection_level.value),
            origin_label=forms.ORIGIN_LABELS.get(key.origin, key.origin.value),
            rotation_choices=forms.ROTATION_CHOICES,
            rotation_current=_rotation_choice(key),
            min_rotation_days=forms.MIN_ROTATION_DAYS,
            max_rotation_days=forms.MAX_ROTATION_DAYS,
            min_window=keys.MIN_DELETION_WINDOW_DAYS,
            max_window=keys.MAX_DELETION_WINDOW_DAYS,
            default_window=keys.DEFAULT_DELETION_WINDOW_DAYS,
            symmetric=key.spec_info.symmetric,
            external=key.origin is Origin.EXTERNAL,
            states=KeyState,
            key_store_label=forms.key_store_label(key.key_store_id, key.protection_level, data["key_stores"]),
            wrapping=wrapping,
            wrapping_specs=forms.wrapping_specs(wrapping),
            import_url=self._url(ctx.request, f"/{ctx.region.id}/keys/{key.id}/import/{params.token_id}")
            if params is not None
            else "",
            now=int(self._s.clock.now()),
        )
        return self._render(ctx.request, "key.html", context, status)

    async def key_detail(self, ctx: Ctx) -> Response:
        return await self.key_page(ctx)

    async def key_action(self, ctx: Ctx) -> Response:
        action = ctx.request.path_params["action"]
        ref = ctx.request.path_params["key_id"]
        change = self._key_changes(ctx, ref).get(action)
        if change is None:
            return self._error_page(ctx.request, 404, "Unknown action", "There is no such key action.", ctx.session)
        try:
            await self._run(change)
        except forms.FormError as exc:
            return await self.key_page(ctx, {action: " ".join(exc.fields.values())}, 400)
        except errors.KmsError as exc:
            if isinstance(exc, errors.KeyNotFound):
                raise
            return await self.key_page(ctx, {action: field_message(exc)}, status_of(exc))
        log.info("console: %s %s on key %s", ctx.caller.access_key_id, action, ref)
        return RedirectResponse(self._key_url(ctx, ref, done=action), status_code=303)

    def _key_changes(self, ctx: Ctx, ref: str) -> dict[str, Callable[[], object]]:
        s, c, f = self._s, ctx.caller, ctx.form

        def rotation_policy() -> object:
            enabled, interval = forms.parse_rotation(forms.text(f, "rotation_period"), forms.text(f, "custom_days"))
            return s.versions.update_rotation_policy(c, ref, enabled, interval)

        def add_alias() -> object:
            name = forms.full_alias_name(forms.text(f, "alias"))
            if name is None:
                raise errors.MissingParameter("AliasName")
            return s.aliases.create_alias(c, name, ref)

        def remove_alias() -> object:
            name = forms.text(f, "alias")
            mine, _ = s.aliases.list_aliases_by_key(c, ref, listing.Page(1, listing.MAX_PAGE_SIZE))
            if name not in {a.name for a in mine}:
                raise errors.AliasNotFound()  # a key's page removes only that key's aliases
            s.aliases.delete_alias(c, name)
            return None

        def delete_material() -> object:
            if forms.text(f, "confirm") != "yes":
                raise forms.FormError({"delete-material": DELETE_MATERIAL_UNCONFIRMED})
            return s.importing.delete_material(c, ref)

        return {
            "delete-material": delete_material,
            "enable": lambda: s.keys.enable_key(c, ref),
            "disable": lambda: s.keys.disable_key(c, ref),
            "schedule-deletion": lambda: s.keys.schedule_deletion(
                c, ref, forms.parse_window(forms.text(f, "window_days"))
            ),
            "cancel-deletion": lambda: s.keys.cancel_deletion(c, ref),
            "protection": lambda: s.keys.set_deletion_protection(
                c, ref, forms.text(f, "enabled") == "yes", forms.text(f, "protection_description")
            ),
            "description": lambda: s.keys.update_description(c, ref, forms.text(f, "description")),
            "rotation": rotation_policy,
            "alias-add": add_alias,
            "alias-remove": remove_alias,
            "tag-add": lambda: s.tags.tag(
                c, [ref], [forms.parse_tag(forms.text(f, "tag_key"), forms.text(f, "tag_value"))]
            ),
            "tag-remove": lambda: s.tags.untag(c, [ref], [forms.text(f, "tag_key")]),
        }

    async def public_key(self, ctx: Ctx) -> Response:
        ref, version_id = ctx.request.path_params["key_id"], ctx.request.path_params["version_id"]
        key_id, version, pem = await self._run(lambda: self._s.asymmetric.public_key_pem(ctx.caller, ref, version_id))
        return PlainTextResponse(
            pem,
            media_type="application/x-pem-file",
            headers={"Content-Disposition": f'attachment; filename="publickey-{key_id}-{version}.pem"'},
        )

    # --- importing key material (Origin=EXTERNAL) -------------------------------------------------

    async def import_parameters(self, ctx: Ctx) -> Response:
        """GetParametersForImport; the page then offers the public key and the token as downloads."""
        ref = ctx.request.path_params["key_id"]
        spec, algorithm = forms.text(ctx.form, "wrapping_spec"), forms.text(ctx.form, "wrapping_algorithm")
        try:
            params = await self._run(lambda: self._s.importing.get_parameters(ctx.caller, ref, algorithm, spec))
        except errors.KmsError as exc:
            if isinstance(exc, errors.KeyNotFound):
                raise
            field_name = forms.import_field_of(exc, "import-parameters")
            return await self.key_page(ctx, {field_name: field_message(exc)}, status_of(exc))
        log.info("console: %s got import parameters for key %s", ctx.caller.access_key_id, params.key_id)
        url = self._key_url(ctx, params.key_id, done="import-parameters", params=params.token_id)
        return RedirectResponse(url, status_code=303)

    async def import_download(self, ctx: Ctx) -> Response:
        """One file of an issue of import parameters: the public key (DER or PEM) or the token."""
        ref, token_id = ctx.request.path_params["key_id"], ctx.request.path_params["token_id"]
        name = ctx.request.path_params["name"]
        if name not in IMPORT_FILES:
            return self.not_found(ctx.request)
        params = await self._run(lambda: self._s.importing.issued_parameters(ctx.caller, ref, token_id))
        what, media_type, filename = IMPORT_FILES[name]
        if what == "token":
            content = (params.token + "\n").encode("ascii")
        elif name.endswith(".pem"):
            content = pem("PUBLIC KEY", params.public_key)
        else:
            content = params.public_key
        return Response(
            content,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename.format(key=params.key_id)}"'},
        )

    async def import_material(self, ctx: Ctx) -> Response:
        """ImportKeyMaterial from the uploaded files (multipart/form-data)."""
        ref = ctx.request.path_params["key_id"]
        problems: dict[str, str] = {}
        token = await _upload(ctx.form, "import_token")
        material = await _upload(ctx.form, "material")
        if not token:
            problems["import_token"] = forms.upload_missing("import token")
        if not material:
            problems["material"] = forms.upload_missing("wrapped key material")
        for name, what, data in (
            ("import_token", "an import token", token),
            ("material", "wrapped key material", material),
        ):
            if data is not None and len(data) > forms.MAX_UPLOAD_BYTES:
                problems[name] = f"The file is larger than {forms.MAX_UPLOAD_BYTES // 1024} KiB, too large for {what}."
        expire_unix: int | None = None
        try:
            expire_unix = forms.parse_expiry(forms.text(ctx.form, "material_expiry"))
        except forms.FormError as exc:
            problems.update(exc.fields)
        if problems or token is None or material is None:
            return await self.key_page(ctx, problems, 400)
        token_text, wrapped = forms.import_token_text(token), forms.wrapped_material(material)
        try:
            key = await self._run(
                lambda: self._s.importing.import_material(ctx.caller, ref, token_text, wrapped, expire_unix)
            )
        except errors.KmsError as exc:
            if isinstance(exc, errors.KeyNotFound):
                raise
            return await self.key_page(
                ctx, {forms.import_field_of(exc, "import-material"): field_message(exc)}, status_of(exc)
            )
        log.info("console: %s imported key material into key %s", ctx.caller.access_key_id, key.id)
        return RedirectResponse(self._key_url(ctx, key.id, done="import-material"), status_code=303)

    # --- aliases --------------------------------------------------------------------------------

    async def aliases_page(self, ctx: Ctx, problem: str = "", status: int = 200) -> Response:
        number = forms.page_number(ctx.query("page", "1"))
        found, total = await self._run(
            lambda: self._s.aliases.list_aliases(ctx.caller, listing.Page(number, ALIASES_PER_PAGE))
        )
        pages = max(1, -(-total // ALIASES_PER_PAGE))
        context = self._page_context(
            ctx,
            "aliases",
            aliases=found,
            total=total,
            page=number,
            pages=pages,
            page_url=lambda n: self._url(ctx.request, f"/{ctx.region.id}/aliases", page=str(n) if n > 1 else ""),
            problem=problem,
            done=DONE_MESSAGES.get(ctx.query("done"), ""),
        )
        return self._render(ctx.request, "aliases.html", context, status)

    async def aliases_list(self, ctx: Ctx) -> Response:
        return await self.aliases_page(ctx)

    async def delete_alias(self, ctx: Ctx) -> Response:
        name = forms.text(ctx.form, "alias")
        try:
            await self._run(lambda: self._s.aliases.delete_alias(ctx.caller, name))
        except errors.KmsError as exc:
            return await self.aliases_page(ctx, message_of(exc), status_of(exc))
        return RedirectResponse(
            self._url(ctx.request, f"/{ctx.region.id}/aliases", done="alias-deleted"), status_code=303
        )


StoreLevels = dict[str, dict[str, dict[str, str | None]]]


async def _upload(form: Mapping[str, Any], name: str) -> bytes | None:
    """An uploaded file's bytes (at most one byte over the limit), or None when no file was chosen."""
    value = form.get(name)
    if not isinstance(value, UploadFile):
        return None
    data = await value.read(forms.MAX_UPLOAD_BYTES + 1)
    return data or None


def pem(label: str, der: bytes) -> bytes:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode("ascii")


def _rotation_choice(key: Key) -> tuple[str, str]:
    """The Rotation Period choice (and custom days) that shows a key's current policy."""
    if not key.rotation_enabled or key.rotation_interval is None:
        return forms.ROTATION_DISABLE, ""
    days, rest = divmod(key.rotation_interval, rotation.DAY)
    if rest == 0 and days in rotation.PRESET_DAYS:
        return str(days), ""
    return forms.ROTATION_CUSTOM, str(days) if rest == 0 else f"{key.rotation_interval / rotation.DAY:g}"


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


def dialog_context(dialog: forms.CreateKeyForm, options: CreateOptions, store_levels: StoreLevels) -> dict[str, Any]:
    """What the Create Key dialog shows for the chosen spec and key store: each choice, enabled or
    with its reason."""
    chosen = options.get(dialog.spec) or options.specs[0]
    store = dialog.key_store if dialog.key_store in store_levels else forms.DEFAULT_KEY_STORE
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
        "chosen": chosen,
        "spec_data": spec_data,
        # What was chosen stays chosen if the spec allows it; else the spec's default is selected.
        "chosen_usage": _selectable(dialog.usage or chosen.spec.default_usage.value, usage_choices),
        "chosen_level": _selectable(dialog.protection_level, level_choices),
        "chosen_origin": _selectable(dialog.origin, origin_choices),
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
