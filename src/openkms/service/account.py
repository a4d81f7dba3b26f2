"""Account-level actions that need no key: regions, service status, random passwords."""

from __future__ import annotations

import secrets

from openkms.domain import errors, passwords
from openkms.domain.actions import action
from openkms.domain.identity import Caller
from openkms.domain.regions import Region, RegionCatalogue
from openkms.service.resolve import KeyResolver

_REGIONS, _STATUS = action("DescribeRegions"), action("DescribeAccountKmsStatus")
_OPEN, _PASSWORD = action("OpenKmsService"), action("GetRandomPassword")


class AccountService:
    def __init__(self, regions: RegionCatalogue, resolver: KeyResolver) -> None:
        self._regions = regions
        self._resolver = resolver

    def regions(self, caller: Caller) -> tuple[Region, ...]:
        self._resolver.authorize(caller, _REGIONS)
        return self._regions.regions

    def kms_status(self, caller: Caller) -> str:
        self._resolver.authorize(caller, _STATUS)
        return "Enabled"

    def open_service(self, caller: Caller) -> None:
        self._resolver.authorize(caller, _OPEN)
        # A self-hosted KMS is always open; the real service answers a second call this way.
        raise errors.ServiceAlreadyOpened()

    @staticmethod
    def random_bytes(caller: Caller, length: int) -> bytes:
        """The instance gateway's GenerateRandom: any authenticated caller's (nothing is read)."""
        del caller
        return secrets.token_bytes(length)

    def random_password(self, caller: Caller, rules: passwords.PasswordRules) -> str:
        self._resolver.authorize(caller, _PASSWORD)
        return passwords.generate(rules)
