"""GetRandomPassword: length 8-128 over the included character classes."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from openkms.domain import errors

MIN_LENGTH, MAX_LENGTH, DEFAULT_LENGTH = 8, 128, 32
PUNCTUATION = string.punctuation  # printable ASCII punctuation


@dataclass(frozen=True, slots=True)
class PasswordRules:
    length: int = DEFAULT_LENGTH
    exclude_characters: str = ""
    exclude_lowercase: bool = False
    exclude_uppercase: bool = False
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    require_each_included_type: bool = True


def generate(rules: PasswordRules) -> str:
    if not MIN_LENGTH <= rules.length <= MAX_LENGTH:
        raise errors.InvalidParameter("PasswordLength", f"From {MIN_LENGTH} to {MAX_LENGTH}.")
    classes = [
        chars
        for chars, excluded in (
            (string.ascii_lowercase, rules.exclude_lowercase),
            (string.ascii_uppercase, rules.exclude_uppercase),
            (string.digits, rules.exclude_numbers),
            (PUNCTUATION, rules.exclude_punctuation),
        )
        if not excluded
    ]
    classes = [c for c in ("".join(ch for ch in cls if ch not in rules.exclude_characters) for cls in classes) if c]
    if not classes:
        raise errors.InvalidParameter("ExcludeCharacters", "No characters are left to build a password from.")
    alphabet = "".join(classes)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(rules.length))
        if not rules.require_each_included_type or all(any(ch in cls for ch in password) for cls in classes):
            return password
