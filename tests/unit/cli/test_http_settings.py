"""The [http] limits: defaults, the TOML table, the OPENKMS_HTTP_* variables (which win), and how
``openkms serve`` hands them to its HTTP protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from openkms.cli.http_limits import HttpLimits
from openkms.cli.serve import http_limits
from openkms.settings import Settings

TOML = """
[http]
max_request_line_bytes = 8192
max_header_bytes = 16384
max_headers = 50
max_body_bytes = 1048576
request_timeout_seconds = 2.5
keep_alive_timeout_seconds = 1
max_connections = 64
"""


def test_defaults() -> None:
    limits = http_limits(Settings.load(env={}))
    assert limits == HttpLimits(
        max_request_line_bytes=65535,
        max_header_bytes=32768,
        max_headers=100,
        request_timeout=15.0,
        keep_alive_timeout=5.0,
        max_connections=1024,
    )
    assert Settings.load(env={}).http_max_body_bytes == 256 * 1024


def test_the_toml_table(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text(TOML)
    settings = Settings.load(env={}, config_file=config)
    assert http_limits(settings) == HttpLimits(8192, 16384, 50, 2.5, 1.0, 64)
    assert settings.http_max_body_bytes == 1048576


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text(TOML)
    env = {
        "OPENKMS_CONFIG": str(config),
        "OPENKMS_HTTP_MAX_REQUEST_LINE_BYTES": "4096",
        "OPENKMS_HTTP_MAX_HEADER_BYTES": "8192",
        "OPENKMS_HTTP_MAX_HEADERS": "20",
        "OPENKMS_HTTP_MAX_BODY_BYTES": "2048",
        "OPENKMS_HTTP_REQUEST_TIMEOUT": "0.5",
        "OPENKMS_HTTP_KEEP_ALIVE_TIMEOUT": "30",
        "OPENKMS_HTTP_MAX_CONNECTIONS": "8",
    }
    settings = Settings.load(env=env)
    assert http_limits(settings) == HttpLimits(4096, 8192, 20, 0.5, 30.0, 8)
    assert settings.http_max_body_bytes == 2048


@pytest.mark.parametrize(
    ("request_timeout", "keep_alive", "tick", "request_ticks", "idle_ticks"),
    [(15.0, 5.0, 1.25, 13, 5), (1.0, 1.0, 0.25, 5, 5), (0.5, 30.0, 0.125, 5, 241)],
)
def test_a_deadline_is_noticed_within_a_tick_after_it_passes(
    request_timeout: float, keep_alive: float, tick: float, request_ticks: int, idle_ticks: int
) -> None:
    # The first tick comes anywhere within one tick of the deadline being set, so waiting
    # timeout/tick + 1 ticks is never early and at most one tick late.
    limits = HttpLimits(65535, 32768, 100, request_timeout, keep_alive, 1024)
    assert limits.tick() == tick
    assert (limits.ticks(request_timeout), limits.ticks(keep_alive)) == (request_ticks, idle_ticks)
    for timeout, ticks in ((request_timeout, request_ticks), (keep_alive, idle_ticks)):
        assert (ticks - 1) * tick >= timeout
        assert (ticks - 1) * tick < timeout + tick
