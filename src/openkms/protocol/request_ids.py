"""Request ids (``RequestId``, ``x-acs-request-id``): the text of a version-4 UUID in upper case,
as Alibaba's are, made from a random prefix drawn once per process and a counter.

``uuid.uuid4()`` reads the operating system's random source on every call and builds a ``UUID``
object: a few microseconds of every request for an id that needs to be unique, not secret.

Uniqueness: the first 64 bits are the process's prefix (60 random bits, the version nibble
``4`` among them), the last 64 its counter (62 bits, under the RFC 4122 variant bits ``10``).
Within a process the counter never repeats (it would take 2^62 requests to wrap). Two processes
(workers, nodes, restarts) share ids only if they drew the same prefix: among a million
processes ever started, the chance that any two did is about 10^12 / 2^61, under one in two
million. A process forked after this module is imported draws a prefix of its own
(``os.register_at_fork``), so a fork does not repeat its parent's ids.
"""

from __future__ import annotations

import itertools
import os

_VARIANT = 0b10 << 62  # the RFC 4122 variant, in the counter's top bits
_COUNTER_MASK = (1 << 62) - 1


def _new_prefix() -> str:
    """The id's first three groups and the dash after them (8, 4 and 4 hex digits): 60 random
    bits, with the version nibble ``4`` as the third group's first digit."""
    bits = int.from_bytes(os.urandom(8), "big")
    text = f"{bits & ~(0xF << 12) | (0x4 << 12):016X}"
    return f"{text[:8]}-{text[8:12]}-{text[12:]}-"


_prefix = _new_prefix()
_counter = itertools.count()  # next() on it is atomic under the GIL: safe from worker threads


def _reseed() -> None:
    global _prefix, _counter  # the process's state, redrawn in a forked child
    _prefix, _counter = _new_prefix(), itertools.count()


os.register_at_fork(after_in_child=_reseed)


def new_request_id() -> str:
    """A request id unique across the processes of all nodes (see the module's text)."""
    text = f"{_VARIANT | next(_counter) & _COUNTER_MASK:016X}"
    return f"{_prefix}{text[:4]}-{text[4:]}"
