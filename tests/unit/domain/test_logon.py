"""The throttle's rule on failed log-ons (domain/logon.py), on explicit times."""

from __future__ import annotations

from openkms.domain.logon import (
    FIRST_BLOCK,
    MAX_BLOCK,
    MAX_FAILURES,
    WINDOW,
    LogOnFailures,
    access_key_subject,
    after_failure,
    fingerprint,
    wait_seconds,
)

T0 = 1_700_000_000


def failures(times: list[int], subject: str = "ip:192.0.2.1") -> LogOnFailures | None:
    state = None
    for t in times:
        state = after_failure(state, subject, t)
    return state


def test_four_failures_refuse_nothing_the_fifth_refuses_for_a_minute() -> None:
    assert wait_seconds(failures([T0 + n for n in range(MAX_FAILURES - 1)]), T0 + 10) == 0
    state = failures([T0 + n for n in range(MAX_FAILURES)])
    assert wait_seconds(state, T0 + MAX_FAILURES - 1) == FIRST_BLOCK
    assert wait_seconds(state, T0 + MAX_FAILURES - 1 + FIRST_BLOCK) == 0


def test_each_further_failure_doubles_the_refusal_up_to_the_cap() -> None:
    state = failures([T0] * MAX_FAILURES)
    waits = []
    now = T0
    for _ in range(10):
        now = state.blocked_until if state is not None else now
        state = after_failure(state, "ip:192.0.2.1", now)
        waits.append(wait_seconds(state, now))
    assert waits[:4] == [2 * FIRST_BLOCK, 4 * FIRST_BLOCK, 8 * FIRST_BLOCK, 16 * FIRST_BLOCK]
    assert max(waits) == MAX_BLOCK == waits[-1]


def test_failures_spread_wider_than_the_window_never_refuse() -> None:
    spaced = failures([T0 + n * (WINDOW // 3) for n in range(12)])  # 3 per window, window after window
    assert spaced is not None
    assert spaced.failures < MAX_FAILURES
    assert wait_seconds(spaced, T0 + 12 * WINDOW) == 0


def test_a_quiet_window_after_the_refusal_forgets_the_count() -> None:
    state = failures([T0] * (MAX_FAILURES + 2))  # refused for 4 minutes
    assert state is not None
    again = after_failure(state, state.subject, state.blocked_until + WINDOW)
    assert (again.failures, wait_seconds(again, again.first_at)) == (1, 0)
    not_quiet = after_failure(state, state.subject, state.blocked_until + WINDOW - 1)
    assert wait_seconds(not_quiet, state.blocked_until + WINDOW - 1) == 8 * FIRST_BLOCK


def test_subjects_hold_no_typed_id_and_the_log_fingerprint_is_short() -> None:
    typed = "Zq8mXv3nT5rW9yB2cD4fG6hJ8kL0pQ"
    assert typed not in access_key_subject(typed)
    assert access_key_subject(f"  {typed} ") == access_key_subject(typed)
    assert len(fingerprint(typed)) == 8
    assert fingerprint(typed) in access_key_subject(typed)
