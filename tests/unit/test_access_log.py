"""The access log's direct path writes what the logging machinery would have written, and only
where it would have: serve's configuration, the ``plain`` format, INFO let through."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from openkms import access_log
from openkms.access_log import LineHandler

LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) INFO openkms\.access (.*)")
TEXT = "0EB96288-8856-4022-8000-000000000000 POST Encrypt 200 - 1.2ms ak=LTAIexample region=cn-hangzhou"

# A process configured as `openkms serve` configures itself; it writes one line by the direct path
# and the same line through Logger.info (a filter on the logger turns the direct path off).
SERVE = """
import logging.config, sys
from openkms import access_log
from openkms.cli.serve import log_config
logging.config.dictConfig(log_config(sys.argv[1]))
print(access_log.on(), logging.getLogger("openkms.access").handlers[0].direct)
access_log.write(sys.argv[2])
logging.getLogger("openkms.access").addFilter(lambda record: True)
access_log.write(sys.argv[2])
"""


def _serve_like(level: str) -> tuple[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", SERVE, level, TEXT], capture_output=True, text=True, check=True)
    return done.stdout.strip(), done.stderr.splitlines()


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """``openkms.access`` as a test sets it up, put back as it was afterwards."""
    found = logging.getLogger(access_log.NAME)
    saved = found.handlers[:], found.level, found.propagate, found.filters[:]
    yield found
    found.handlers[:], found.filters[:] = saved[0], saved[3]
    found.setLevel(saved[1])
    found.propagate = saved[2]


def _line_handler(logger: logging.Logger, fmt: str = access_log.FORMAT) -> io.StringIO:
    out = io.StringIO()
    handler = LineHandler(out)
    handler.setFormatter(logging.Formatter(fmt))
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return out


def test_under_serves_configuration_the_direct_line_is_the_line_logging_writes() -> None:
    said, lines = _serve_like("info")
    assert said == "True True"
    assert len(lines) == 2
    direct, logged = (LINE.fullmatch(line) for line in lines)
    assert direct is not None
    assert logged is not None
    assert direct.group(3) == logged.group(3) == TEXT
    assert lines[0][:16] == lines[1][:16]  # the same minute (the two lines are microseconds apart)


def test_the_log_level_warning_turns_the_access_log_off() -> None:
    assert _serve_like("warning") == ("False True", [])


def test_the_direct_line_has_the_local_time_to_the_millisecond(logger: logging.Logger) -> None:
    out = _line_handler(logger)
    before = time.time()
    access_log.write(TEXT)
    after = time.time()
    found = LINE.fullmatch(out.getvalue().rstrip("\n"))
    assert found is not None
    assert out.getvalue().count("\n") == 1
    written = time.mktime(time.strptime(found.group(1), "%Y-%m-%d %H:%M:%S")) + int(found.group(2)) / 1000
    assert int(before * 1000) / 1000 <= written <= after


def test_another_format_or_a_filter_goes_through_logging(logger: logging.Logger) -> None:
    out = _line_handler(logger, "%(levelname)s|%(name)s|%(message)s")
    access_log.write(TEXT)
    assert out.getvalue() == f"INFO|openkms.access|{TEXT}\n"
    seen: list[str] = []
    out = _line_handler(logger)
    logger.addFilter(lambda record: seen.append(record.getMessage()) is None)
    access_log.write(TEXT)
    assert seen == [TEXT]
    assert LINE.fullmatch(out.getvalue().rstrip("\n"))


def test_a_level_above_info_writes_nothing(logger: logging.Logger) -> None:
    out = _line_handler(logger)
    logger.setLevel(logging.WARNING)
    assert not access_log.on()
    access_log.write(TEXT)
    assert out.getvalue() == ""


def test_a_stream_that_fails_does_not_fail_the_request(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _line_handler(logger)
    out.close()
    access_log.write(TEXT)  # reported as logging reports a failed write, not raised
    assert "Logging error" in capsys.readouterr().err
