"""The Keys page and the Create Key dialog each ask the service a fixed few questions, however
many keys and aliases the region holds: one page of keys (the search done by the service), the
aliases of the keys shown, and one ``create_options`` for the dialog."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from openkms.console.app import ConsoleConfig, create_console
from openkms.console.auth import COOKIE_NAME, SessionManager
from openkms.service.keys import CreateKeyRequest
from tests.inproc import Inproc, inproc_runtime


class Counting:
    """Passes every call on to ``inner`` and counts it by method name."""

    def __init__(self, inner: object, calls: Counter[str], prefix: str) -> None:
        self._inner, self._calls, self._prefix = inner, calls, prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls[f"{self._prefix}.{name}"] += 1
            return attr(*args, **kwargs)

        return call


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Inproc]:
    with inproc_runtime(tmp_path / "data") as runtime:
        keys = runtime.runtime.services.keys
        for n in range(130):  # more than the largest page the service hands out (100)
            alias = f"alias/app/key-{n}" if n % 3 == 0 else None
            keys.create_key(runtime.caller, CreateKeyRequest(alias=alias))
            runtime.clock.advance(1)
        yield runtime


@pytest.fixture
def calls() -> Counter[str]:
    return Counter()


Get = Callable[..., httpx.Response]


@pytest.fixture
def get(rt: Inproc, calls: Counter[str]) -> Get:
    """GET from the console (as mounted, without its /console prefix), signed in."""
    real = rt.runtime.services
    services = replace(real, keys=Counting(real.keys, calls, "keys"), aliases=Counting(real.aliases, calls, "aliases"))
    app = create_console(services, ConsoleConfig(rt.runtime.console_key), offload=False)
    sessions = SessionManager(rt.runtime.console_key, real.identity, real.console_sessions, real.clock)
    session = sessions.log_on(rt.access_key_id, rt.secret).session
    assert session is not None
    cookies = {COOKIE_NAME: sessions.encode(session)}

    def fetch(path: str, **params: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", cookies=cookies) as http:
                return await http.get(path, params=params)

        # In a thread of its own: the browser tests' Playwright keeps an event loop running here.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(lambda: asyncio.run(go())).result()

    return fetch


def test_the_create_key_dialog_asks_once(get: Get, calls: Counter[str]) -> None:
    response = get("/cn-hangzhou/keys/create")
    assert response.status_code == 200
    assert 'id="create-key-dialog"' in response.text
    assert "130 keys" in response.text
    assert calls == Counter({"keys.list_keys": 1, "aliases.names_by_key": 1, "keys.create_options": 1})


def test_a_search_is_one_page_from_the_service(get: Get, calls: Counter[str]) -> None:
    response = get("/cn-hangzhou/keys", q="APP/KEY-1", page="2")
    assert response.status_code == 200
    # Aliases name every third key: key-12, -15, -18 and key-102 to key-129 match, 13 keys.
    assert "13 keys" in response.text
    assert "Page 2 of 2" in response.text
    assert response.text.count('<span class="alias"') == 3
    assert calls == Counter({"keys.list_keys": 1, "aliases.names_by_key": 1})


def test_a_page_past_the_end_shows_the_last_one(get: Get, calls: Counter[str]) -> None:
    response = get("/cn-hangzhou/keys", page="99")
    assert response.status_code == 200
    assert "Page 13 of 13" in response.text
    assert calls == Counter({"keys.list_keys": 2, "aliases.names_by_key": 1})
