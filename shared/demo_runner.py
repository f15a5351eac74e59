"""`kefu demo`: the newcomer's one command.

Database: DATABASE_URL if set (never stopped), else a private Postgres under `<var>/pg`, reused
while it runs and stopped on exit only if this run started it. `<var>` is ./var, or KEFU_VAR_DIR.
Then migrate, seed the demo data (idempotent), start both services as child processes with
the full environment (they end when the demo does, even on SIGKILL), wait for their /healthz,
print a banner, and run until SIGINT/SIGTERM or until a service dies.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.cli import CliError, apply_migrations, exit_code, load_demo_data
from shared.pgserver import PgServer
from shared.settings import Settings

DEMO_DATABASE = "kefu"
HEALTH_TIMEOUT = 30.0
STOP_GRACE = 10.0
TAIL_LINES = 30

_print_lock = threading.Lock()


def say(line: str, stream=None) -> None:
    """One whole line to the terminal; the children's reader threads write through here too."""
    stream = stream or sys.stdout
    with _print_lock:
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):  # terminal gone: keep running and shutting down regardless
            pass


class Shutdown(BaseException):
    """Raised in the main thread by the first SIGINT/SIGTERM (BaseException: no `except Exception`
    on the way may swallow it)."""


class ChildDied(Exception):
    def __init__(self, child: "Child"):
        super().__init__(child.name)
        self.child = child


class Signals:
    """The first signal interrupts whatever the main thread is doing; a later one (a second Ctrl-C)
    asks the shutdown to hurry: no grace period for the children. A duplicate arriving right after
    the first (a terminal's Ctrl-C and a wrapper such as `timeout` relaying it) is not a second one."""

    DUPLICATE_WINDOW = 1.0

    def __init__(self) -> None:
        self.armed = True
        self.hurry = False
        self._first_at: float | None = None
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum: int, frame: object) -> None:
        now = time.monotonic()
        if self._first_at is None:
            self._first_at = now
        elif now - self._first_at > self.DUPLICATE_WINDOW:
            self.hurry = True
        if self.armed:
            self.armed = False
            raise Shutdown(signum)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# Runs `python -m <module>` in a child that gets SIGTERM when `kefu demo` dies, however it dies
# (SIGKILL included), so no service outlives it holding its port. Set in the child itself: a
# preexec_fn is unsafe once the relay threads run. Linux only (prctl); elsewhere a plain run.
CHILD_BOOTSTRAP = """\
import os, runpy, signal, sys
parent, module = int(sys.argv[1]), sys.argv[2]
if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))   # PR_SET_PDEATHSIG
    if os.getppid() != parent:   # the demo died before the line above: nobody would stop us
        sys.exit(1)
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def child_command(module: str) -> list[str]:
    return [sys.executable, "-c", CHILD_BOOTSTRAP, str(os.getpid()), module]


class Child:
    """A service process whose merged output is relayed line by line, prefixed with its name.
    Started from the main thread: the kernel sends the parent-death signal when the thread that
    forked the child ends, and the main thread lives as long as the demo."""

    def __init__(self, name: str, module: str, env: dict[str, str]):
        self.name = name
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        # Own process group: a terminal's Ctrl-C reaches only `kefu demo`, which stops the
        # children in order instead of having them race it.
        self.proc = subprocess.Popen(child_command(module), env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, process_group=0)
        self._reader = threading.Thread(target=self._relay, name=f"relay-{name}", daemon=True)
        self._reader.start()

    def _relay(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.tail.append(line)
            say(f"{self.name:<8} | {line}")

    def drain(self) -> None:
        self._reader.join(timeout=2)


def stop_children(children: list[Child], signals: Signals) -> None:
    """SIGTERM to all, then SIGKILL to whatever is still running after the grace period (at once on
    a second Ctrl-C)."""
    for child in children:
        if child.proc.poll() is None:
            child.proc.terminate()
    deadline = time.monotonic() + STOP_GRACE
    while any(c.proc.poll() is None for c in children):
        if time.monotonic() > deadline or signals.hurry:
            for child in children:
                if child.proc.poll() is None:
                    say(f"kefu: {child.name} did not stop in time; killing it", sys.stderr)
                    child.proc.kill()
            for child in children:
                child.proc.wait()
            break
        time.sleep(0.1)
    for child in children:
        child.drain()


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


def redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    hostport = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{hostport}"))


async def ensure_database(server_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:  # another `kefu demo` got there first
                pass
    finally:
        await conn.close()


def internal_api_key(var_dir: Path) -> str:
    """The key kept in <var>/internal_api_key, created on first use so that restarts keep it."""
    path = var_dir / "internal_api_key"
    key = path.read_text().strip() if path.exists() else ""
    if len(key) < 16:
        key = secrets.token_hex(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
    return key


def probe_host(host: str) -> str:
    """Where to reach a service bound to `host` from this machine."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def http_url(host: str, port: int, path: str) -> str:
    host = probe_host(host)
    return f"http://[{host}]:{port}{path}" if ":" in host else f"http://{host}:{port}{path}"


def check_port_free(host: str, port: int, variable: str) -> None:
    """Fail before starting a service whose port is taken: otherwise an old server still running
    there would answer the health probe in the dead child's place."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CliError(f"{variable}={port} is taken on {host} ({exc.strerror}); "
                           f"stop what runs there or set {variable} to a free port") from None


_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def healthy(url: str) -> bool:
    try:
        with _no_proxy.open(url, timeout=2) as resp:
            return json.loads(resp.read()).get("code") == 1
    except (OSError, ValueError):  # refused, reset, timed out, HTTP error, not JSON: not up yet
        return False


def wait_healthy(children: dict[Child, str]) -> None:
    pending = dict(children)
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while pending:
        for child, url in list(pending.items()):
            if child.proc.poll() is not None:
                raise ChildDied(child)
            if healthy(url):
                del pending[child]
        if pending and time.monotonic() > deadline:
            names = ", ".join(c.name for c in pending)
            raise CliError(f"{names} did not answer /healthz within {HEALTH_TIMEOUT:.0f} s")
        time.sleep(0.2)


LABEL = 21   # width of the banner's label column


def _row(label: str, value: str) -> str:
    return f"  {label:<{LABEL}}{value}"


def banner(settings: Settings, dsn_note: str) -> str:
    """Where everything is and the demo accounts to try it with (from shared/demo_data.py)."""
    from shared.demo_data import (ADMIN_PASSWORD, BUYER_COUNT, GOODS_PER_SHOP, SHOP_PASSWORD, SHOPS,
                                  USER_PASSWORD)
    chat = settings.public_chat_url
    first, second = SHOPS[0], SHOPS[1]
    merchants = ", ".join(account for shop in SHOPS for _, account, _ in shop.admins)
    kefu_of = [_row("", f"{shop.name}: " + ", ".join(
        f"{account} is {nickname}" for admin_id, account, _ in shop.admins
        for _, kefu_admin, nickname in shop.kefu if kefu_admin == admin_id)) for shop in SHOPS]
    return "\n".join([
        "",
        "kefu demo is running",
        _row("kefu console", f"{chat}/kefu/"),
        _row("widget demo page", f"{chat}/widget/demo.html   (a goods page of {first.name}; "
                                 f"?goods_id={GOODS_PER_SHOP + 1} for {second.name})"),
        _row("merchant embed demo", f"{chat}/kefu/embed-demo.html"),
        _row("commerce API", settings.public_base_url),
        _row("chat WebSocket", settings.public_ws_url),
        _row("chat HTTP", chat),
        _row("database", dsn_note),
        _row("uploads", str(settings.upload_dir)),
        "Demo logins",
        _row("platform admin", f"admin / {ADMIN_PASSWORD}   (kefu console: 平台客服; merchant embed demo: 平台后台)"),
        _row("merchant admins", f"{merchants} / {SHOP_PASSWORD}   (kefu console: 商家客服; "
                                "merchant embed demo: 商家后台)"),
        *kefu_of,
        _row("buyers", f"13800000001 ... 138{BUYER_COUNT:08d} / {USER_PASSWORD}   (widget demo page)"),
        "Press Ctrl-C to stop.",
        "",
    ])


def run_demo() -> int:
    env = dict(os.environ)
    initial = Settings.from_env(env)  # a bad value or a taken port fails here, before anything starts
    check_port_free(initial.commerce_host, initial.commerce_port, "COMMERCE_PORT")
    check_port_free(initial.chat_host, initial.chat_port, "CHAT_PORT")
    var_dir = Path(env.get("KEFU_VAR_DIR", "").strip() or "var").resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    if not env.get("INTERNAL_API_KEY", "").strip():
        env["INTERNAL_API_KEY"] = internal_api_key(var_dir)
    if not env.get("UPLOAD_DIR", "").strip():
        env["UPLOAD_DIR"] = str(var_dir / "uploads")

    signals = Signals()
    owned_server: PgServer | None = None
    children: list[Child] = []
    try:
        if env.get("DATABASE_URL", "").strip():
            dsn = env["DATABASE_URL"].strip()
            dsn_note = f"{redact(dsn)} (DATABASE_URL)"
        else:
            server = PgServer(var_dir / "pg")
            if server.initialized() and server.running_port():
                say(f"kefu: reusing the private Postgres already running on {server.datadir}")
            else:
                say(f"kefu: starting a private Postgres in {server.datadir}")
                owned_server = server
            dsn = with_database(server.start(), DEMO_DATABASE)
            asyncio.run(ensure_database(server.dsn(), DEMO_DATABASE))
            dsn_note = f"{dsn} (private, in {server.datadir}; log {server.logfile})"
            env["DATABASE_URL"] = dsn
        settings = Settings.from_env(env)

        for name in apply_migrations(dsn):
            say(f"kefu: applied migration {name}")
        say("kefu: loading the demo data")
        load_demo_data(dsn, settings.upload_dir)

        child_env = {**env, **settings.as_env(), "PYTHONUNBUFFERED": "1"}
        commerce = Child("commerce", "commerce_api", child_env)
        children.append(commerce)
        chat = Child("chat", "chat_server", child_env)
        children.append(chat)
        wait_healthy({commerce: http_url(settings.commerce_host, settings.commerce_port, "/healthz"),
                      chat: http_url(settings.chat_host, settings.chat_port, "/healthz")})
        say(banner(settings, dsn_note))

        while True:
            for child in children:
                if child.proc.poll() is not None:
                    raise ChildDied(child)
            time.sleep(0.3)
    except Shutdown:
        say("kefu: stopping")
        return 0
    except ChildDied as exc:
        child = exc.child
        child.drain()
        say(f"kefu: {child.name} exited with code {exit_code(child.proc.returncode)}; its last output:",
            sys.stderr)
        for line in child.tail:
            say(f"  {line}", sys.stderr)
        return 1
    finally:
        signals.armed = False
        stop_children(children, signals)
        if owned_server is not None:
            owned_server.stop()
            say("kefu: private Postgres stopped")
        signals.restore()
