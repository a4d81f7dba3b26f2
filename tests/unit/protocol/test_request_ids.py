"""Request ids keep the shape of Alibaba's (an upper-case version-4 UUID) and never repeat: not
within a process, not between processes, not in a child forked from a process that made some."""

from __future__ import annotations

import multiprocessing
import re
import uuid
from multiprocessing.connection import Connection

from openkms.protocol.request_ids import new_request_id
from tests.inproc import Inproc

SHAPE = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}")


def _ids(out: Connection) -> None:
    out.send([new_request_id() for _ in range(1000)])


def _ids_of(method: str) -> list[str]:
    context = multiprocessing.get_context(method)
    mine, theirs = context.Pipe(duplex=False)
    process = context.Process(target=_ids, args=(theirs,))
    process.start()
    ids: list[str] = mine.recv()
    process.join()
    assert process.exitcode == 0
    return ids


def test_an_id_is_an_upper_case_version_4_uuid() -> None:
    ids = [new_request_id() for _ in range(1000)]
    assert all(SHAPE.fullmatch(i) for i in ids)
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == 1000


def test_processes_do_not_share_ids_and_a_forked_child_does_not_repeat_its_parent() -> None:
    mine = [new_request_id() for _ in range(1000)]
    spawned, forked = _ids_of("spawn"), _ids_of("fork")
    assert len(set(mine) | set(spawned) | set(forked)) == 3000
    # Each process has a prefix of its own: the child's counter starting again cannot meet the parent's.
    prefixes = {i[:19] for i in mine}, {i[:19] for i in spawned}, {i[:19] for i in forked}
    assert all(len(p) == 1 for p in prefixes)
    assert len(set.union(*prefixes)) == 3
    assert new_request_id() not in set(mine) | set(forked)


def test_the_answer_and_its_header_carry_the_request_id(rt: Inproc) -> None:
    resp = rt.request("DescribeRegions")
    assert SHAPE.fullmatch(resp.request_id)
    assert f'"RequestId":"{resp.request_id}"' in resp.body.decode()
