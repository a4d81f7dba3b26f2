"""What every action handler receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openkms.domain import context as enc_context
from openkms.domain import listing
from openkms.domain.identity import Caller
from openkms.protocol.params import Params
from openkms.service.container import Services


@dataclass(frozen=True, slots=True)
class Ctx:
    caller: Caller
    services: Services
    p: Params

    def page(self) -> listing.Page:
        return listing.Page(listing.page_number(self.p.raw("PageNumber")), listing.page_size(self.p.raw("PageSize")))

    def context(self, name: str = "EncryptionContext") -> dict[str, str]:
        return enc_context.validate(self.p.map(name), name)

    def dry_run(self) -> bool:
        return self.p.flag("DryRun")


Handler = Callable[[Ctx], dict[str, Any]]
