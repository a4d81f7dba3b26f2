"""Account-level actions that need no key: regions, service status, random passwords."""

from __future__ import annotations

from openkms.domain import errors, passwords
from openkms.domain.regions import Region, RegionCatalogue


class AccountService:
    def __init__(self, regions: RegionCatalogue) -> None:
        self._regions = regions

    def regions(self) -> tuple[Region, ...]:
        return self._regions.regions

    def kms_status(self) -> str:
        return "Enabled"

    def open_service(self) -> None:
        # A self-hosted KMS is always open; the real service answers a second call this way.
        raise errors.ServiceAlreadyOpened()

    def random_password(self, rules: passwords.PasswordRules) -> str:
        return passwords.generate(rules)
