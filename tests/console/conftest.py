"""The console in a real headless browser: Debian's chromium driven by Playwright.

One browser for the whole session; each test gets a fresh browser context (its own cookies) and a
fresh account on the shared in-process server, so tests never see each other's keys.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, Playwright, sync_playwright

from openkms.console.auth import COOKIE_NAME, SessionManager
from tests.servers import InProcessServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}  # a laptop screen


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class User:
    access_key_id: str
    secret: str
    account_uid: str


@pytest.fixture
def user(server: InProcessServer) -> User:
    """A fresh account with its own AccessKey pair: an empty set of keys in every region."""
    return User(*server.new_account())


@pytest.fixture(scope="session")
def shared_context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True)  # type: ignore[arg-type]
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def shared_page(shared_context: BrowserContext) -> Iterator[Page]:
    page = shared_context.new_page()
    yield page
    page.close()


@pytest.fixture
def context(shared_context: BrowserContext) -> BrowserContext:
    """The session's browser context, without cookies: a browser that has never seen the console.
    (A new context per test costs a renderer process start, about half a second.)"""
    shared_context.clear_cookies()
    return shared_context


@pytest.fixture
def page(context: BrowserContext, shared_page: Page) -> Iterator[Page]:
    """The session's page, blank; script errors and Content-Security-Policy refusals fail the test."""
    shared_page.goto("about:blank")
    problems: list[str] = []

    def on_error(exc: Exception) -> None:
        problems.append(f"script error: {exc}")

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and ("Content Security Policy" in msg.text or "Refused" in msg.text):
            problems.append(f"console: {msg.text}")

    shared_page.on("pageerror", on_error)
    shared_page.on("console", on_console)
    yield shared_page
    shared_page.remove_listener("pageerror", on_error)
    shared_page.remove_listener("console", on_console)
    assert problems == []


def console_url(server: InProcessServer, path: str = "") -> str:
    return f"{server.base_url}/console{path}"


def log_on(page: Page, server: InProcessServer, user: User) -> None:
    """Step 1 of the seed: log on to the KMS console."""
    page.goto(console_url(server))
    page.get_by_label("AccessKey ID").fill(user.access_key_id)
    page.get_by_label("AccessKey Secret").fill(user.secret)
    page.get_by_role("button", name="Log on").click()
    page.wait_for_url("**/keys")


@pytest.fixture
def signed_in(page: Page, context: BrowserContext, server: InProcessServer, user: User) -> Page:
    """A browser already logged on (the log-on form itself is walked in test_auth and the seed tests):
    the session cookie is made by the console's own session code with the server's derived key."""
    sessions = SessionManager(
        server.runtime.console_key, server.services.identity, server.services.console_sessions, server.clock
    )
    session = sessions.log_on(user.access_key_id, user.secret).session
    assert session is not None
    context.add_cookies(
        [
            {
                "name": COOKIE_NAME,
                "value": sessions.encode(session),
                "domain": "127.0.0.1",
                "path": "/console",
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    page.goto(console_url(server, "/cn-hangzhou/keys"))
    return page


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def csrf_token(page: Page) -> str:
    return page.locator("input[name=csrf_token]").first.input_value()


def open_create_dialog(page: Page) -> Locator:
    """Steps 3 and 4: Keys in the left-side navigation pane, then Create Key. Returns the dialog."""
    page.get_by_role("navigation", name="Key Management Service").get_by_role("link", name="Keys").click()
    page.get_by_role("link", name="Create Key").click()
    dialog = page.get_by_role("dialog", name="Create Key")
    dialog.wait_for()
    return dialog


def field_error(page: Page, field: str) -> str:
    return page.locator(f"#{field}-error").inner_text().strip()


def force_enable(page: Page, selector: str) -> None:
    """What a crafted request can do: use a choice the dialog offers disabled."""
    page.locator(selector).evaluate("el => { el.disabled = false; }")
