"""Key policies: stored and returned verbatim (openkms does not evaluate them), but checked for shape."""

from __future__ import annotations

import json

from openkms.domain import errors

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
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise errors.InvalidParameter("Policy", f"At most {MAX_POLICY_BYTES} bytes.")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise errors.InvalidParameter("Policy", "The policy is not valid JSON.") from None
    if not isinstance(doc, dict) or doc.get("Version") != "1":
        raise errors.InvalidParameter("Policy", 'A policy is a JSON object with "Version": "1".')
    statements = doc.get("Statement")
    if not isinstance(statements, list) or not statements:
        raise errors.InvalidParameter("Policy", "A policy has a non-empty Statement list.")
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise errors.InvalidParameter("Policy", "Each Statement has Effect Allow or Deny.")
    return text


def check_policy_name(name: str | None) -> None:
    if name not in (None, "", POLICY_NAME):
        raise errors.InvalidParameter("PolicyName", 'The only policy name is "default".')
