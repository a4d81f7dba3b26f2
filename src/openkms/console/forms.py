"""The console's forms: what a field may hold, and how a posted form becomes a service request.
(Which field a service error belongs to is ``console/errors.py``'s.)

Only the shape of the input is checked here (a number is a number, a choice is one of the
choices). Every business rule is the service's: the console calls the same methods as the API,
so the server validates a form exactly as it validates a CreateKey call.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from openkms.domain import errors, importing, keys, listing, numbers, rotation, secrets, specs
from openkms.domain.aliases import PREFIX as ALIAS_PREFIX
from openkms.domain.specs import SPECS, KeyUsage, Origin, ProtectionLevel
from openkms.domain.tags import Tag, validate_tag
from openkms.service.backends import DEFAULT_STORE, KeyStoreStatus
from openkms.service.keys import CreateKeyRequest

# The seed's words for each choice.
USAGE_LABELS = {KeyUsage.ENCRYPT_DECRYPT: "Encrypt/Decrypt", KeyUsage.SIGN_VERIFY: "Sign/Verify"}
LEVEL_LABELS = {ProtectionLevel.SOFTWARE: "Software", ProtectionLevel.HSM: "Hsm"}
ORIGIN_LABELS = {Origin.ALIYUN_KMS: "Alibaba Cloud KMS", Origin.EXTERNAL: "External"}
DEFAULT_KEY_STORE = DEFAULT_STORE
DEFAULT_KEY_STORE_LABEL = "Default key store (shared KMS)"


def key_store_labels(stores: Iterable[KeyStoreStatus]) -> dict[str, str]:
    """The KeyStore choices: the default store, then every configured (HSM) key store."""
    labels = {DEFAULT_KEY_STORE: DEFAULT_KEY_STORE_LABEL}
    for store in stores:
        if store.id != DEFAULT_KEY_STORE:
            note = f" — {store.description}" if store.description else ""
            labels[store.id] = f"{store.id}{note} (Hsm)"
    return labels


def key_store_label(store_id: str, level: ProtectionLevel, stores: Iterable[KeyStoreStatus]) -> str:
    """Where a key lives, for its details page: the store's id and description."""
    found = next((s for s in stores if s.id == store_id and s.protection_level is level), None)
    note = f" — {found.description}" if found is not None and found.description else ""
    if store_id == DEFAULT_KEY_STORE:
        return DEFAULT_KEY_STORE_LABEL + note
    return store_id + note


ROTATION_DISABLE = "disable"
ROTATION_CUSTOM = "custom"
ROTATION_CHOICES: tuple[tuple[str, str], ...] = (
    *((str(d), f"{d} Days") for d in rotation.PRESET_DAYS),
    (ROTATION_DISABLE, "Disable"),
    (ROTATION_CUSTOM, "Customize"),
)
MIN_ROTATION_DAYS = rotation.MIN_INTERVAL // rotation.DAY
MAX_ROTATION_DAYS = rotation.MAX_INTERVAL // rotation.DAY
_PRESETS = {str(days): days for days in rotation.PRESET_DAYS}  # what each choice's <option> posts
# As many digits as the fields' ranges need: more is refused as a shape, not a range.
_MAX_DAYS_DIGITS = 6
EXTERNAL_ACK = "I understand the implications of using the external key materials key"
EXTERNAL_ACK_MISSING = f"Select the check box “{EXTERNAL_ACK}” to use External key material."


class FormError(Exception):
    """The input does not have the shape a field needs; ``fields`` maps field -> message."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("; ".join(fields.values()))
        self.fields = dict(fields)


def text(form: Mapping[str, object], name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def full_alias_name(value: str) -> str | None:
    """What the Alias Name box holds -> the alias name; the ``alias/`` prefix is optional there."""
    value = value.strip()
    if not value:
        return None
    return value if value.startswith(ALIAS_PREFIX) else ALIAS_PREFIX + value


def parse_rotation(period: str, custom_days: str) -> tuple[bool, int | None]:
    """Rotation Period -> (enabled, interval in seconds). The 7-730 day rule is the domain's."""
    if period in (ROTATION_DISABLE, ""):
        return False, None
    if period == ROTATION_CUSTOM:
        # Unsigned, as the number in the API's RotationInterval (30d); the range is the service's.
        try:
            days = numbers.parse_integer(custom_days, signed=False, max_digits=_MAX_DAYS_DIGITS)
        except numbers.InvalidNumber:
            raise FormError(
                {"rotation": f"Enter a whole number of days from {MIN_ROTATION_DAYS} to {MAX_ROTATION_DAYS}."}
            ) from None
        return True, days * rotation.DAY
    if period in _PRESETS:
        return True, _PRESETS[period] * rotation.DAY
    raise FormError({"rotation": "Choose a Rotation Period from the list."})


@dataclass
class CreateKeyForm:
    """The Create Key dialog's values, kept as typed so the dialog can be shown again on error."""

    key_store: str = DEFAULT_KEY_STORE
    spec: str = specs.DEFAULT_SPEC
    usage: str = ""
    alias: str = ""
    protection_level: str = specs.DEFAULT_PROTECTION_LEVEL.value
    description: str = ""
    rotation_period: str = ROTATION_DISABLE
    custom_days: str = ""
    origin: str = specs.DEFAULT_ORIGIN.value
    external_ack: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Mapping[str, object]) -> CreateKeyForm:
        return cls(
            key_store=text(form, "key_store"),
            spec=text(form, "spec", specs.DEFAULT_SPEC),
            usage=text(form, "usage"),
            alias=text(form, "alias"),
            protection_level=text(form, "protection_level", specs.DEFAULT_PROTECTION_LEVEL.value),
            description=text(form, "description"),
            rotation_period=text(form, "rotation_period", ROTATION_DISABLE),
            custom_days=text(form, "custom_days"),
            origin=text(form, "origin", specs.DEFAULT_ORIGIN.value),
            external_ack=text(form, "external_ack") == "yes",
        )

    @property
    def symmetric(self) -> bool:
        info = SPECS.get(self.spec)
        return info is None or info.symmetric

    def request(self) -> CreateKeyRequest:
        """The service request, or FormError for every field whose input has the wrong shape."""
        problems: dict[str, str] = {}
        # The key store itself is checked by the service (an unknown one is refused there).
        if self.spec not in SPECS:
            problems["spec"] = "Choose a Key Spec from the list."
        usage = None
        if self.usage:
            try:
                usage = KeyUsage(self.usage)
            except ValueError:
                problems["usage"] = "Choose Encrypt/Decrypt or Sign/Verify."
        try:
            level = ProtectionLevel(self.protection_level)
        except ValueError:
            problems["protection_level"] = "Choose Software or Hsm."
            level = specs.DEFAULT_PROTECTION_LEVEL
        try:
            origin = Origin(self.origin)
        except ValueError:
            problems["origin"] = "Choose Alibaba Cloud KMS or External."
            origin = specs.DEFAULT_ORIGIN
        if origin is Origin.EXTERNAL and not self.external_ack:
            problems["external_ack"] = EXTERNAL_ACK_MISSING
        rotation_enabled, interval = False, None
        # The dialog hides (and does not send) Rotation Period for asymmetric specs; if it is sent
        # anyway, the service refuses it as CreateKey does.
        try:
            rotation_enabled, interval = parse_rotation(self.rotation_period, self.custom_days)
        except FormError as exc:
            problems.update(exc.fields)
        if problems:
            raise FormError(problems)
        return CreateKeyRequest(
            spec=self.spec,
            usage=usage,
            origin=origin,
            protection_level=level,
            description=self.description,
            rotation_enabled=rotation_enabled,
            rotation_interval=interval,
            key_store_id=self.key_store,
            alias=full_alias_name(self.alias),
        )


def parse_tag(key: str, value: str) -> Tag:
    return validate_tag(key.strip(), value.strip(), "Tags")


def parse_window(days: str) -> int:
    """The deletion window's shape, read as the API reads PendingWindowInDays (a sign is allowed);
    its 7-366 day range is the domain's rule."""
    try:
        return numbers.parse_integer(days, max_digits=_MAX_DAYS_DIGITS)
    except numbers.InvalidNumber:
        raise FormError(
            {
                "window": f"Enter the waiting period as a whole number of days from {keys.MIN_DELETION_WINDOW_DAYS}"
                f" to {keys.MAX_DELETION_WINDOW_DAYS}."
            }
        ) from None


def parse_recovery_window(days: str) -> int:
    """A secret's recovery window, read as the API reads RecoveryWindowInDays; its 7-30 day range
    is the domain's rule."""
    try:
        return numbers.parse_integer(days, max_digits=_MAX_DAYS_DIGITS)
    except numbers.InvalidNumber:
        raise FormError(
            {
                "delete": f"Enter the recovery window as a whole number of days from {secrets.MIN_RECOVERY_DAYS}"
                f" to {secrets.MAX_RECOVERY_DAYS}."
            }
        ) from None


def parse_stages(text: str) -> list[str] | None:
    """Version stages as typed, separated by commas or spaces; none typed is PutSecretValue's
    default (ACSCurrent). Each stage's rule is the domain's."""
    found = [stage for stage in re.split(r"[\s,]+", text) if stage]
    return found or None


def page_number(text: str) -> int:
    """A list's page from its link, read as the API reads PageNumber; anything the API would
    refuse shows the first page, as a link is not a form to correct."""
    try:
        return listing.page_number(text)
    except errors.InvalidParameter:
        return 1


# --- importing key material -------------------------------------------------------------------

MAX_UPLOAD_BYTES = 16 * 1024
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/]+={0,2}")


@dataclass(frozen=True)
class WrappingChoice:
    spec: str
    algorithm: str
    problem: str | None


def wrapping_choices(mainland_china: bool) -> list[WrappingChoice]:
    """Every wrapping key spec x algorithm GetParametersForImport knows, and why the region refuses one."""
    out = []
    for spec, algorithms in importing.WRAPPING.items():
        for algorithm in algorithms:
            try:
                importing.check_wrapping(spec, algorithm, mainland_china)
                problem = None
            except errors.InvalidParameter as exc:
                problem = exc.reason
            out.append(WrappingChoice(spec, algorithm, problem))
    return out


def wrapping_specs(choices: Iterable[WrappingChoice]) -> list[tuple[str, str | None]]:
    """The wrapping key specs, each with why it is refused when none of its algorithms is offered."""
    found: dict[str, str | None] = {}
    for c in choices:
        if c.spec not in found or c.problem is None:
            found[c.spec] = c.problem
    return list(found.items())


def upload_missing(what: str) -> str:
    return f"Choose the {what} file."


def wrapped_material(data: bytes) -> bytes:
    """The uploaded wrapped material: the raw bytes that wrapping produced, or their base64 text
    (what the API's EncryptedKeyMaterial carries). Raw RSA or SM2 output is never all base64 text."""
    text = b"".join(data.split())
    if text and len(text) % 4 == 0 and _BASE64_TEXT.fullmatch(text):
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            pass
    return data


def import_token_text(data: bytes) -> str:
    """The token file's text; anything that is not a token is refused by the service."""
    return data.decode("ascii", errors="replace").strip()


def parse_expiry(value: str) -> int | None:
    """Key material expires (UTC), as a date-time field sends it -> Unix time; empty = never.
    Whether it lies in the future is the service's rule."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FormError({"material_expiry": "Enter a date and time (UTC), or leave it empty: never expires."}) from None
    if moment.tzinfo is not None:
        raise FormError({"material_expiry": "Enter the date and time in UTC, without a time zone."})
    if not 1970 <= moment.year <= 9999:
        raise FormError({"material_expiry": "Enter a date from 1970 on."})
    return calendar.timegm(moment.timetuple())
