"""Browser tests of the staff app: the real ASGI app (config/asgi.py) served by uvicorn in a
thread on a free 127.0.0.1 port, against the test PostgreSQL and Redis, driven by
Playwright through Debian's chromium (/usr/bin/chromium; run_tests.sh installs it; never
`playwright install`, which downloads a browser build).

The webhook's Celery tasks run eagerly inside the server's request thread (the same code a
worker runs, after the webhook's commit), so "customer message → agent's page" goes through
the real webhook, engine, outbox, channel layer (Redis pub/sub) and WebSocket.

Screenshots go to TEST_ARTIFACTS_DIR (default `test-artifacts/` at the repository root,
gitignored): `shot(page, name)`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import override_settings

from tests import meta

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR") or Path(settings.BASE_DIR) / "test-artifacts")
LIVE_MS = 2000  # the issue: live changes appear within 2 seconds
PASSWORD = "senha-forte-123"  # tests.factories.UserFactory's


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self) -> None:
        import uvicorn

        from config.asgi import application

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            ws="websockets-sansio",
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-asgi", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "the ASGI test server did not start"
            assert time.monotonic() < deadline, "the ASGI test server took too long"
            time.sleep(0.05)

    def wait_idle(self, timeout: float = 5) -> None:
        """Until every connection is closed and its handler done (a socket's disconnect
        writes presence: it must not run after the test's data is flushed)."""
        deadline = time.monotonic() + timeout
        while self.server.server_state.connections or self.server.server_state.tasks:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def post_webhook(self, payload: dict, secret: str) -> int:
        body = json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.url}/api/chatbots/webhook/",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": meta.sign(body, secret),
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status


@pytest.fixture(scope="module")
def live_asgi(django_db_blocker):
    """The ASGI app on 127.0.0.1 for this module's tests (each test brings its data with
    `transactional_db`, so the server's threads see it)."""
    database = connections.databases["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    # The server's threads open their own connections; closed after each request, so the
    # test database can be flushed and dropped.
    database["CONN_MAX_AGE"] = 0
    # Playwright's sync API runs an event loop in the test's thread; the ORM calls of the
    # test itself (factories, asserts) are plain sync code in between.
    unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # http://127.0.0.1: cookies without the Secure flag, as a browser would keep them.
    overrides = override_settings(
        SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False, SECURE_SSL_REDIRECT=False
    )
    overrides.enable()
    server = LiveServer()
    with django_db_blocker.unblock():
        server.start()
    try:
        yield server
    finally:
        server.stop()
        overrides.disable()
        database["CONN_MAX_AGE"] = max_age
        if unsafe is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = unsafe


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run_tests.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser, live_asgi):
    """`new_page(width=390)`: a page in a fresh browser context (its own cookies), phone
    width by default, notifications granted."""
    contexts = []

    def make(width: int = 390, height: int = 844):
        context = browser.new_context(
            base_url=live_asgi.url,
            viewport={"width": width, "height": height},
            locale="pt-BR",
        )
        context.grant_permissions(["notifications"], origin=live_asgi.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    live_asgi.wait_idle()


def login(page, user) -> None:
    page.goto("/atendimento/entrar/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/atendimento/conversas/**")
    # Live from here on: the socket is open (the dot in the header turns green).
    page.wait_for_selector("body[data-live=open]", timeout=5000)


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
