"""Key policies: stored and returned verbatim, checked against RAM's grammar when set, and evaluated
with the caller's RAM policies by the authorizer (service/authorizer.py)."""

from __future__ import annotations

import json

from openkms.domain import errors
from openkms.domain.ram.document import Kind, MalformedPolicy, compile_policy

MAX_POLICY_BYTES = 32_768
POLICY_NAME = "default"


def default_policy(account_uid: str) -> str:
    return json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Sid": "Enable RAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"RAM": [f"acs:ram::{account_uid}:*"]},
                    "Action": ["kms:*"],
                    "Resource": ["*"],
                }
            ],
        },
        separators=(",", ":"),
    )


def validate_policy(text: str) -> str:
    """A key policy as RAM's grammar for resource policies has it (a Principal in every statement),
    or InvalidParameter naming the line of the first problem."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise errors.InvalidParameter("Policy", f"At most {MAX_POLICY_BYTES} bytes.")
    try:
        compile_policy(text, Kind.RESOURCE)
    except MalformedPolicy as exc:
        raise errors.InvalidParameter("Policy", f"The policy is malformed: {exc}") from None
    return text


def check_policy_name(name: str | None) -> None:
    if name not in (None, "", POLICY_NAME):
        raise errors.InvalidParameter("PolicyName", 'The only policy name is "default".')
