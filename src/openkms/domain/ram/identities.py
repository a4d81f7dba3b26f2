"""RAM users, managed policies with their versions, and attachments of policies to users.

A subset of Alibaba RAM (API 2015-05-01): docs/reference/ram-2015-05-01.md is the field-by-field
reference. The account's own AccessKeys (no user) keep full access to the account, as in the cloud.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from openkms.domain import errors

USER_NAME = re.compile(r"[A-Za-z0-9.@_-]{1,64}")
POLICY_NAME = re.compile(r"[A-Za-z0-9-]{1,128}")
VERSION_ID = re.compile(r"v([1-9][0-9]{0,8})")
MAX_DISPLAY_NAME = 128
MAX_COMMENTS = 128
MAX_DESCRIPTION = 1024

ACCESS_KEYS_PER_USER = 2  # RAM's fixed limit, counting inactive keys
VERSIONS_PER_POLICY = 5  # RAM's fixed limit


@dataclass(frozen=True, slots=True)
class RamLimits:
    users_per_account: int = 5000
    custom_policies_per_account: int = 1500
    system_policies_per_user: int = 20
    custom_policies_per_user: int = 10


class PolicyType(StrEnum):
    SYSTEM = "System"
    CUSTOM = "Custom"


class RotateStrategy(StrEnum):
    NONE = "None"
    DELETE_OLDEST = "DeleteOldestNonDefaultVersionWhenLimitExceeded"


@dataclass(frozen=True, slots=True)
class User:
    account_uid: str
    name: str
    user_id: str  # numeric, 16 digits, stable across renames
    created_at: int
    updated_at: int
    display_name: str = ""
    email: str = ""
    mobile_phone: str = ""
    comments: str = ""

    @property
    def arn(self) -> str:
        return user_arn(self.account_uid, self.name)


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """A custom policy of an account, or a system policy (account ``system``)."""

    account_uid: str
    name: str
    type: PolicyType
    default_version: str
    created_at: int
    updated_at: int
    description: str = ""
    last_version: int = 1  # the highest N of vN ever issued: ids are never reused


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    account_uid: str
    policy_name: str
    version_id: str
    document: str
    created_at: int

    @property
    def number(self) -> int:
        return version_number(self.version_id)


@dataclass(frozen=True, slots=True)
class Attachment:
    account_uid: str
    user_name: str
    policy_type: PolicyType
    policy_name: str
    attached_at: int


SYSTEM_ACCOUNT = "system"


def user_arn(account_uid: str, name: str) -> str:
    return f"acs:ram::{account_uid}:user/{name}"


def root_arn(account_uid: str) -> str:
    return f"acs:ram::{account_uid}:root"


def user_resource(account_uid: str, name: str) -> str:
    return f"acs:ram:*:{account_uid}:user/{name}"


def policy_resource(account_uid: str, name: str, policy_type: PolicyType) -> str:
    owner = SYSTEM_ACCOUNT if policy_type is PolicyType.SYSTEM else account_uid
    return f"acs:ram:*:{owner}:policy/{name}"


def version_number(version_id: str) -> int:
    match = VERSION_ID.fullmatch(version_id)
    if match is None:
        raise errors.RamInvalidParameter("VersionId", "Format")
    return int(match.group(1))


def check_user_name(name: str, parameter: str = "UserName") -> str:
    if not name or len(name) > 64:
        raise errors.RamInvalidParameter(parameter, "Length")
    if not USER_NAME.fullmatch(name):
        raise errors.RamInvalidParameter(parameter, "InvalidChars")
    return name


def check_policy_name(name: str) -> str:
    if not name or len(name) > 128:
        raise errors.RamInvalidParameter("PolicyName", "Length")
    if not POLICY_NAME.fullmatch(name):
        raise errors.RamInvalidParameter("PolicyName", "InvalidChars")
    return name


def check_length(parameter: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise errors.RamInvalidParameter(parameter, "Length")
    return value


def parse_policy_type(value: str) -> PolicyType:
    try:
        return PolicyType(value)
    except ValueError:
        raise errors.RamInvalidParameter("PolicyType", "") from None
