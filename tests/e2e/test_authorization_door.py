"""The authorizer port is the one door: every action of the dispatch table asks it, through the key
resolver where a key is named, and a refusal there stops the action before it does anything.

Runs each action's sample request (tests/action_samples.py) through the request pipeline the
server runs; an action added without a sample, or one that never asks the authorizer, fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest

from openkms.domain import errors
from openkms.domain.actions import Action
from openkms.domain.authorization import Resource
from openkms.domain.identity import Caller
from openkms.protocol.dispatch import ACTIONS
from tests.action_samples import EXPECTED_ERRORS, Samples
from tests.inproc import Inproc, inproc_runtime


@dataclass
class Recording:
    """Allows everything except ``deny`` (an action name), and records what it was asked."""

    asked: list[tuple[str, str]] = field(default_factory=list)
    deny: str | None = None

    def authorize(
        self, caller: Caller, action: Action, resource: Resource, conditions: Mapping[str, str] | None = None
    ) -> None:
        self.asked.append((action.ram_name, resource.arn))
        if action.name == self.deny:
            raise errors.AccessDenied(action.ram_name, resource.arn)


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Inproc, Recording, Samples]]:
    recording = Recording()
    with inproc_runtime(tmp_path_factory.mktemp("door") / "data", authorizer=recording) as rt:
        yield rt, recording, Samples(rt.runtime.services, rt.caller, rt.clock)


def _code(body: bytes) -> str | None:
    return json.loads(body).get("Code")


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_asks_the_authorizer(door: tuple[Inproc, Recording, Samples], action: str) -> None:
    rt, recording, samples = door
    params = samples.params(action)
    recording.asked.clear()
    response = rt.request(action, params)
    assert _code(response.body) == EXPECTED_ERRORS.get(action), response.body
    asked = {name for name, _ in recording.asked}
    assert f"kms:{action}" in asked, f"{action} did not ask the authorizer (it asked {asked})"
    account = rt.caller.account_uid
    assert all(arn.startswith(f"acs:kms:cn-hangzhou:{account}:") for _, arn in recording.asked), recording.asked


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_refusal_stops_every_action(door: tuple[Inproc, Recording, Samples], action: str) -> None:
    rt, recording, samples = door
    params = samples.params(action)
    recording.deny = action
    try:
        response = rt.request(action, params)
    finally:
        recording.deny = None
    assert (response.status, _code(response.body)) == (403, "Forbidden.RAM"), response.body
