"""Browser tests: the commerce API and the chat server run as real processes (`python -m ...`) on
free ports against a fresh database per test, and Debian's Chromium, driven by Playwright, opens
the pages a person would open: the kefu console, the buyer widget on a shop page, the embed demo.

Without a Chromium binary (or without the playwright package) these tests are skipped with a
message on a newcomer's machine, and fail in CI (CI=true), where .ci/run installs Chromium.
`playwright install` is never needed: the system Chromium is launched by path.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

try:
    from playwright.sync_api import expect
except ImportError:   # reported by the `browser` fixture: skipped on a newcomer's machine, failed in CI
    expect = None

from shared.demo_data import write_images
from shared.settings import REPO_ROOT, Settings
from tests.conftest import INTERNAL_KEY, run_sync

CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO_ROOT / "test-artifacts"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 667}
WAIT_MS = 10_000

_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI must run the browser tests: .ci/run installs chromium)", pytrace=False)
    pytest.skip(f"{reason}: the browser tests are skipped (apt-get install chromium; pip install -e '.[test]')")


# ----------------------------------------------------------------------------------- browser

@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for the browser tests; every test opens its own contexts."""
    if not Path(CHROMIUM).is_file():
        unavailable(f"no Chromium at {CHROMIUM}")
    if expect is None:
        unavailable("the playwright package is not installed")
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        # launch() gives every run a fresh, temporary user-data dir of its own.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# ---------------------------------------------------------------------------------- services

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """One service process; its output goes to a log file that failures quote."""

    def __init__(self, name: str, module: str, env: dict[str, str], port: int, log: Path):
        self.name, self.module, self.env, self.port, self.log = name, module, env, port, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module], env=self.env, cwd=REPO_ROOT,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with _no_proxy.open(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as resp:
                    if json.loads(resp.read()).get("code") == 1:
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not become healthy in {timeout} s:\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM, as a deployment stops it (the chat server closes its sockets with 1012)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class System:
    """The running system as the pages see it, plus the calls a test needs to arrange things."""
    chat_url: str
    commerce_url: str
    db_dsn: str
    chat: Service
    commerce: Service

    def call(self, url: str, data: dict | None = None, token: str | None = None) -> Any:
        """One HTTP call (POST with a JSON body when `data` is given); the envelope's data, or fail."""
        body = None if data is None else json.dumps(data).encode()
        headers = {"Content-Type": "application/json"} if body else {}
        if token:
            headers["token"] = token
        request = urllib.request.Request(url, data=body, headers=headers)
        with _no_proxy.open(request, timeout=10) as resp:
            envelope = json.loads(resp.read())
        assert envelope["code"] == 1, f"{url}: {envelope}"
        return envelope["data"]

    def buyer_token(self, user_id: int) -> str:
        """Demo buyer `user_id` logged in on the H5 client (6), as a shop page would have it."""
        return self.call(f"{self.commerce_url}/api/account/login",
                         {"mobile": f"138{user_id:08d}", "password": "user123456", "client": 6})["token"]

    def log_in_as_kefu(self, kefu_id: int, account: str = "shop1") -> dict:
        """The merchant back office's "log in as kefu": {token, kefu, url, ws_url}."""
        admin = self.call(f"{self.commerce_url}/shopapi/account/login", {"account": account, "password": "shop123456"})
        return self.call(f"{self.commerce_url}/shopapi/kefu/login", {"id": kefu_id}, token=admin["token"])

    def records(self, shop_id: int, user_id: int) -> list[dict]:
        """The conversation as stored, in seq order."""
        async def fetch() -> list[dict]:
            conn = await asyncpg.connect(self.db_dsn)
            try:
                rows = await conn.fetch("SELECT id, seq, from_type, from_id, to_id, msg, msg_type, type FROM chat_record"
                                        " WHERE shop_id = $1 AND user_id = $2 ORDER BY seq", shop_id, user_id)
                return [dict(r) for r in rows]
            finally:
                await conn.close()
        return run_sync(fetch())

    def execute(self, sql: str, *args: Any) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(self.db_dsn)
            try:
                await conn.execute(sql, *args)
            finally:
                await conn.close()
        run_sync(run())

    def say(self, query: str, chats: list[dict], user_online: dict | None = None) -> list[dict]:
        """Another client of the protocol (a buyer's second tab, an agent's other window): connect
        with `query`, announce the buyer with `user_online` (its data) when given, send `chats` and
        return their stored records."""
        async def run() -> list[dict]:
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(f"{self.chat_url.replace('http', 'ws', 1)}/?{query}")
                try:
                    async def next_frame(event: str) -> dict:
                        while True:
                            frame = json.loads((await ws.receive(timeout=10)).data)
                            if frame["event"] == event:
                                return frame["data"]
                            assert frame["event"] != "error", frame
                    await next_frame("login")
                    if user_online is not None:
                        await ws.send_json({"event": "user_online", "data": user_online})
                    stored = []
                    for chat in chats:
                        await ws.send_json({"event": "chat", "data": chat})
                        stored.append(await next_frame("chat"))
                    return stored
                finally:
                    await ws.close()
        return run_sync(run())

    def restart_chat(self) -> None:
        self.chat.stop()
        self.chat.start()
        self.chat.wait_healthy()


class ShopSite:
    """A shop's own web site, on an origin of its own (another port): the pages it is asked to serve,
    by path. A real server on loopback, so that Chromium treats it like the shop site it stands
    for (a page routed by Playwright would count as public and be refused the loopback servers)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                data = (body or "not found").encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="package")
def shop_site():
    site = ShopSite()
    yield site
    site.close()


@pytest.fixture
def extra_env() -> dict[str, str]:
    """Settings a test wants changed (override with @pytest.mark.parametrize("extra_env", [...]))."""
    return {}


@pytest.fixture
def system(db_dsn: str, tmp_path: Path, extra_env: dict[str, str]):
    chat_port, commerce_port = free_port(), free_port()
    settings = Settings.from_env({
        "DATABASE_URL": db_dsn, "INTERNAL_API_KEY": INTERNAL_KEY, "UPLOAD_DIR": str(tmp_path / "uploads"),
        "CHAT_PORT": str(chat_port), "COMMERCE_PORT": str(commerce_port),
        "COMMERCE_URL": f"http://127.0.0.1:{commerce_port}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{commerce_port}/",
        "PUBLIC_WS_URL": f"ws://127.0.0.1:{chat_port}",
        "PUBLIC_CHAT_URL": f"http://127.0.0.1:{chat_port}",
        "DB_POOL_MIN": "1", "DB_POOL_MAX": "5", "LOG_LEVEL": "WARNING", **extra_env,
    })
    # Only the machine basics from this environment: nothing of a developer's own kefu settings.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")}
    env.update(settings.as_env(), PYTHONUNBUFFERED="1")
    write_images(settings.upload_dir)   # the demo's avatars, logos and goods pictures, as `kefu demo` has them
    commerce = Service("commerce API", "commerce_api", env, commerce_port, tmp_path / "commerce.log")
    chat = Service("chat server", "chat_server", env, chat_port, tmp_path / "chat.log")
    commerce.start()
    chat.start()
    try:
        commerce.wait_healthy()
        chat.wait_healthy()
        yield System(chat_url=settings.public_chat_url, commerce_url=settings.public_base_url.rstrip("/"),
                     db_dsn=db_dsn, chat=chat, commerce=commerce)
    finally:
        chat.stop()
        commerce.stop()


# ------------------------------------------------------------------------------------- pages

@dataclass
class Pages:
    """Browser contexts of one test. Every page is watched: a JavaScript dialog (an injected
    alert) or an uncaught page error fails the test."""
    browser: Any
    system: System
    shop_site: ShopSite
    contexts: list = field(default_factory=list)
    kefu_tokens: dict = field(default_factory=dict)
    dialogs: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def new_page(self, viewport: dict = LAPTOP, mobile: bool = False):
        context = self.browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile, locale="zh-CN")
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return page

    def console(self, kefu_id: int = 2):
        """The console opened the way a merchant app opens it: "log in as kefu" and its url."""
        page = self.new_page()
        login = self.system.log_in_as_kefu(kefu_id)
        self.kefu_tokens[kefu_id] = login["token"]
        page.goto(login["url"])
        page.wait_for_selector("#app[data-connection=open]")
        return page

    def shop_page(self, token: str, shop_id: int = 1, goods_id: int | None = None, phone: bool = True):
        """A shop's product page on its own origin with the one script tag; the widget opened.
        Returns (page, frame) where frame is the widget's iframe."""
        page = self.new_page(PHONE if phone else LAPTOP, mobile=phone)
        goods = f' data-goods-id="{goods_id}"' if goods_id else ""
        html = (f'<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
                f'<title>Shop</title></head><body><h1>A shop page</h1>'
                f'<script src="{self.system.chat_url}/widget.js" data-shop-id="{shop_id}" data-token="{token}"{goods}></script>'
                f'</body></html>')
        path = f"/product-{len(self.shop_site.pages)}.html"
        self.shop_site.pages[path] = html
        page.goto(self.shop_site.url + path)
        page.click(".kefu-widget-launcher")
        frame = page.frame_locator("iframe.kefu-widget-frame")
        frame.locator("#widget[data-connection=open]").wait_for()
        return page, frame

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, system, shop_site):
    opened = Pages(browser, system, shop_site)
    yield opened
    opened.close()
    assert not opened.dialogs, f"a JavaScript dialog opened: {opened.dialogs}"
    assert not opened.errors, f"uncaught errors in the pages: {opened.errors}"


def screenshot(page, name: str) -> Path:
    """test-artifacts/<name>.png (gitignored; CI keeps them as artifacts)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def png_file(path: Path, width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (230, 80, 60)) -> Path:
    """A small real PNG (a solid colour) to upload."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))
    return path

