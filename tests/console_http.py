"""The console over HTTP without a browser: its ASGI app driven by httpx, from a source address
of the test's choosing, with the cookies a browser would keep."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from starlette.types import ASGIApp

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class ConsoleClient:
    def __init__(self, app: ASGIApp, address: str = "192.0.2.10") -> None:
        self.app = app
        self.address = address
        self.cookies = httpx.Cookies()

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(self.address, 40000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1", cookies=self.cookies
            ) as http:
                response = await http.request(method, path, data=form)
                self.cookies = httpx.Cookies(http.cookies)
                return response

        # In a thread of its own: the browser tests' Playwright keeps an event loop running here.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(lambda: asyncio.run(go())).result()

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        """A form posted from the page at ``path``'s own CSRF token (the last page fetched)."""
        return self.request("POST", path, form)

    def csrf(self, page_path: str) -> str:
        found = CSRF.search(self.get(page_path).text)
        assert found is not None, page_path
        return found.group(1)

    def log_on(self, access_key_id: str, secret: str) -> httpx.Response:
        token = self.csrf("/login")
        form = {"csrf_token": token, "access_key_id": access_key_id, "access_key_secret": secret, "next": ""}
        return self.post("/login", form)
