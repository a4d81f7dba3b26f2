"""The services an entry point (API, console, CLI) is given by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from openkms.domain.ports import Clock
from openkms.domain.regions import RegionCatalogue
from openkms.service.access import AccessService
from openkms.service.account import AccountService
from openkms.service.aliases import AliasService
from openkms.service.app_access import AppAccessService
from openkms.service.asymmetric import AsymmetricService
from openkms.service.audit import AuditRecorder
from openkms.service.audit_search import AuditSearchService
from openkms.service.console_sessions import ConsoleSessionService
from openkms.service.crypto import CryptoService
from openkms.service.gateway import GatewayAuthenticator
from openkms.service.identity import IdentityService
from openkms.service.importing import ImportService
from openkms.service.instances import InstanceService
from openkms.service.keys import KeyService
from openkms.service.quotas import QuotaService
from openkms.service.ram_policies import RamPolicyService
from openkms.service.ram_users import RamUserService
from openkms.service.reconcile import Reconciler
from openkms.service.scheduler import Scheduler
from openkms.service.secrets import SecretService
from openkms.service.tags import TagService
from openkms.service.versions import VersionService


@dataclass(frozen=True)
class Services:
    keys: KeyService
    crypto: CryptoService
    asymmetric: AsymmetricService
    versions: VersionService
    aliases: AliasService
    tags: TagService
    identity: IdentityService
    importing: ImportService
    account: AccountService
    secrets: SecretService
    instances: InstanceService
    app_access: AppAccessService
    gateway: GatewayAuthenticator
    scheduler: Scheduler
    ram_users: RamUserService
    ram_policies: RamPolicyService
    access: AccessService
    console_sessions: ConsoleSessionService
    reconcile: Reconciler
    audit: AuditRecorder
    audit_search: AuditSearchService
    quotas: QuotaService
    regions: RegionCatalogue
    clock: Clock
