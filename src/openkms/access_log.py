"""The access log: one line per answered request, ``<time> INFO openkms.access <request id> ...``,
written without the ``logging`` machinery's work per record.

``Logger.info`` costs a request tens of microseconds before anything is written: it looks up its
caller's frame, builds a ``LogRecord`` (thread, process, times), and formats it through the
handler's formatter. ``openkms serve`` gives the ``openkms.access`` logger a handler of its own,
``LineHandler`` (``cli/serve.py``: ``log_config``), which also takes a finished line: ``write``
hands it the line directly when it is the logger's only destination, with the ``plain`` format
and no filters, and the line is the same text that handler would have written for a record (the
time to the millisecond, the level, the logger's name). Under any other configuration (a test
capturing records, an application embedding openkms with handlers of its own) the line goes
through ``Logger.info`` like any other.

The logger's level is the on/off switch either way: ``[server] log_level`` (``OPENKMS_LOG_LEVEL``)
``warning`` or above turns the access log off, and ``on()`` says so before a line is made.
"""

from __future__ import annotations

import logging
import time
from typing import IO

NAME = "openkms.access"
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"  # cli/serve.py's "plain" formatter
_logger = logging.getLogger(NAME)


class LineHandler(logging.StreamHandler[IO[str]]):
    """A stream handler that also writes finished access-log lines (``line``)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        assert self.lock is not None  # Handler.__init__ makes it (and renews it in a forked child)
        self._lock = self.lock
        self.direct = False  # whether ``line`` writes what this handler's formatter would
        self._second: tuple[int, str] = (-1, "")  # the last second's text: one strftime a second

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        # Formatter's own attributes: ``line`` writes the default time format and this layout only.
        self.direct = type(fmt) is logging.Formatter and fmt._fmt == FORMAT and fmt.datefmt is None

    def line(self, text: str) -> None:
        """Write ``text`` as the message of an INFO record of ``openkms.access`` would be."""
        seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
        second, stamp = self._second
        if second != seconds:  # Formatter.formatTime: local time, "%Y-%m-%d %H:%M:%S,mmm"
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
            self._second = (seconds, stamp)
        data = f"{stamp},{nanos // 1_000_000:03d} INFO {NAME} {text}\n"
        with self._lock:
            try:
                self.stream.write(data)
                self.stream.flush()
            except Exception:  # as StreamHandler.emit: logging's own report, never the request's failure
                self.handleError(logging.LogRecord(NAME, logging.INFO, __file__, 0, "%s", (text,), None))


def on() -> bool:
    """Whether the access log is written (its logger's level lets INFO through)."""
    return _logger.isEnabledFor(logging.INFO)


def write(text: str) -> None:
    """One request's line (``text``: one line, nothing a caller chose unchecked)."""
    logger = _logger
    if not logger.isEnabledFor(logging.INFO):
        return
    handlers = logger.handlers
    if len(handlers) == 1 and not logger.propagate and not logger.filters:
        handler = handlers[0]
        if (
            isinstance(handler, LineHandler)
            and handler.direct
            and not handler.filters
            and handler.level <= logging.INFO
        ):
            handler.line(text)
            return
    logger.info("%s", text)
