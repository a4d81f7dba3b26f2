"""Fault rules of the test control API: which requests fail (or wait), and with what error.

A rule names an action (or ``*``), an account (or ``*``), a probability, how many times it may
fire (None: always), a delay before the answer and the error, a preset's or given outright.
``rule_from`` reads one from the control API's JSON and says in one line what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ANY = "*"
MAX_DELAY_SECONDS = 60.0  # a test that waits longer has hung, not exercised a timeout


@dataclass(frozen=True, slots=True)
class FaultError:
    status: int
    code: str
    message: str


# What Alibaba answers in each case (the SDKs' retry logic keys on the code and the status).
_DENY = "User not authorized to operate on the specified resource, or this API doesn't support RAM."
PRESETS: dict[str, FaultError] = {
    "throttle": FaultError(429, "Rejected.Throttling", "Request was denied due to request throttling."),
    "deny": FaultError(403, "Forbidden.RAM", _DENY),
    "internal": FaultError(500, "InternalFailure", "The request processing has failed due to some unknown error."),
    "unavailable": FaultError(503, "ServiceUnavailable", "The request has failed due to a temporary failure."),
}


@dataclass(frozen=True, slots=True)
class FaultRule:
    id: str
    action: str = ANY
    account: str = ANY
    probability: float = 1.0
    count: int | None = None  # times it may still fire; None: every time
    delay: float = 0.0  # seconds before the answer
    error: FaultError | None = None  # None: the request is only delayed

    def applies(self, action: str, account: str) -> bool:
        return self.action in (ANY, action) and self.account in (ANY, account) and self.count != 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": self.id,
            "Action": self.action,
            "Account": self.account,
            "Probability": self.probability,
            "Count": self.count,
            "Delay": self.delay,
        }
        if self.error is not None:
            out["Error"] = {"HttpStatus": self.error.status, "Code": self.error.code, "Message": self.error.message}
        return out


def stored_rule(data: dict[str, Any]) -> FaultRule:
    """A rule as ``to_json`` wrote it (the shared copy every worker reads): checked when added."""
    error = data.get("Error")
    return FaultRule(
        data["Id"],
        data["Action"],
        data["Account"],
        data["Probability"],
        data["Count"],
        data["Delay"],
        None if error is None else FaultError(error["HttpStatus"], error["Code"], error["Message"]),
    )


class BadRule(ValueError):
    """A rule the control API refuses; the message says which field and why."""


def rule_from(rule_id: str, body: dict[str, Any]) -> FaultRule:
    action, account = _text(body, "Action"), _text(body, "Account")
    probability = _number(body, "Probability", 1.0)
    if not 0.0 <= probability <= 1.0:
        raise BadRule("Probability must be between 0 and 1")
    count = body.get("Count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise BadRule("Count must be a whole number of at least 1, or absent for every time")
    delay = _number(body, "Delay", 0.0)
    if not 0.0 <= delay <= MAX_DELAY_SECONDS:
        raise BadRule(f"Delay must be between 0 and {MAX_DELAY_SECONDS:g} seconds")
    error = _error(body)
    if error is None and delay == 0.0:
        raise BadRule("a rule needs a Preset, an Error or a Delay")
    return FaultRule(rule_id, action, account, probability, count, delay, error)


def _error(body: dict[str, Any]) -> FaultError | None:
    preset, given = body.get("Preset"), body.get("Error")
    if preset is not None and given is not None:
        raise BadRule("give a Preset or an Error, not both")
    if preset is not None:
        if preset not in PRESETS:
            raise BadRule(f"Preset must be one of {', '.join(PRESETS)}")
        return PRESETS[preset]
    if given is None:
        return None
    if not isinstance(given, dict):
        raise BadRule("Error must be an object with HttpStatus, Code and Message")
    status = given.get("HttpStatus")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise BadRule("Error.HttpStatus must be an HTTP error status, 400 to 599")
    code = given.get("Code")
    if not isinstance(code, str) or not code:
        raise BadRule("Error.Code must be a non-empty string")
    message = given.get("Message", f"Injected fault: {code}.")
    if not isinstance(message, str):
        raise BadRule("Error.Message must be a string")
    return FaultError(status, code, message)


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, ANY)
    if not isinstance(value, str) or not value:
        raise BadRule(f"{name} must be a non-empty string ({ANY!r} for any)")
    return value


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadRule(f"{name} must be a number")
    return float(value)
