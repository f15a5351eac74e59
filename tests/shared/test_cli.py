"""The `kefu` command, run as a real process: help, configuration errors, seed-demo, one service,
and `kefu demo` end to end (private Postgres or DATABASE_URL), including a clean stop."""
from __future__ import annotations

import ast
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from shared.pgserver import PgServer, free_port
from shared.settings import REPO_ROOT
from tests.conftest import admin_sql, run_sync, with_database
from tests.shared.helpers import KEFU, fetchval, kefu_env

HAS_DEMO_DATA = (REPO_ROOT / "shared" / "demo_data.py").exists()
BANNER_TIMEOUT = 120  # a first run includes initdb
STOP_TIMEOUT = 20

_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_json(url: str) -> dict:
    with _no_proxy.open(url, timeout=5) as resp:
        return json.loads(resp.read())


def post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with _no_proxy.open(req, timeout=10) as resp:
        return json.loads(resp.read())


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


class Kefu:
    """A `kefu` process whose merged output is collected line by line as it arrives."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path):
        # A session of its own: a Ctrl-C can be sent to its whole process group, like a terminal.
        self.proc = subprocess.Popen([KEFU, *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.children: list[int] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        if not wait_until(lambda: text in self.output or self.proc.poll() is not None, timeout):
            pytest.fail(f"no {text!r} within {timeout} s:\n{self.output}")
        if text not in self.output:
            time.sleep(0.5)
            pytest.fail(f"kefu exited with {self.proc.returncode} before {text!r}:\n{self.output}")
        self.children = children_of(self.proc.pid)

    def stop(self, signum: int = signal.SIGTERM, *, group: bool = False) -> int:
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            self._reader.join(timeout=5)

    def kill(self) -> None:
        """Leave nothing behind, whatever happened in the test."""
        pids = {self.proc.pid, *self.children}
        if self.proc.poll() is None:
            pids.update(children_of(self.proc.pid))  # started, but the test stopped before seeing them
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


def run_kefu(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([KEFU, *args], env=env, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------ basics

def test_help_lists_every_subcommand():
    proc = run_kefu(["--help"], kefu_env(COLUMNS="100"), timeout=30)
    assert proc.returncode == 0
    for command in ("migrate", "seed-demo", "commerce", "chat", "demo"):
        # The name, then its one-line help on the same line.
        assert re.search(rf"^    {command} +\w", proc.stdout, re.M), f"{command} missing:\n{proc.stdout}"


def test_shared_never_imports_the_services():
    offenders = []
    for path in sorted((REPO_ROOT / "shared").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names
                          if n.split(".")[0] in ("chat_server", "commerce_api")]
    assert offenders == []


@pytest.mark.parametrize("env, message", [
    ({}, "kefu: configuration error: DATABASE_URL is not set"),
    ({"DATABASE_URL": "mysql://x"}, "kefu: configuration error: DATABASE_URL must be a URL"),
    ({"DATABASE_URL": "postgresql://x@127.0.0.1/x", "CHAT_PORT": "abc"},
     "kefu: configuration error: CHAT_PORT must be an integer"),
])
def test_configuration_errors_exit_2_without_traceback(env, message):
    proc = run_kefu(["migrate"], kefu_env(**env), timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message)
    assert "Traceback" not in proc.stderr


def test_demo_refuses_bad_configuration_before_starting_anything(tmp_path):
    proc = run_kefu(["demo"], kefu_env(KEFU_VAR_DIR=str(tmp_path / "var"), LOG_LEVEL="LOUD"), timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.startswith("kefu: configuration error: LOG_LEVEL")
    assert not (tmp_path / "var").exists()


# --------------------------------------------------------------------------------- databases

@pytest.mark.skipif(not HAS_DEMO_DATA, reason="shared/demo_data.py has not landed yet")
def test_seed_demo_migrates_and_is_idempotent(empty_db, tmp_path):
    env = kefu_env(DATABASE_URL=empty_db, UPLOAD_DIR=str(tmp_path / "uploads"))
    for _ in range(2):
        proc = run_kefu(["seed-demo"], env)
        assert proc.returncode == 0, proc.stderr
    assert run_sync(fetchval(empty_db, 'SELECT count(*) FROM "user"')) == 20
    assert run_sync(fetchval(empty_db, "SELECT count(*) FROM goods")) == 24
    assert run_sync(fetchval(empty_db, "SELECT count(*) FROM kefu")) == 4
    assert any((tmp_path / "uploads").rglob("*.png"))


# ------------------------------------------------------------------------------ one service

def bindable(port: int) -> bool:
    """Whether a server could listen on the port now (SO_REUSEADDR as aiohttp: TIME_WAIT is fine)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def service_env(dsn: str, tmp_path: Path) -> tuple[dict[str, str], int, int]:
    chat_port, commerce_port = free_port(), free_port()
    return kefu_env(DATABASE_URL=dsn, CHAT_PORT=str(chat_port), COMMERCE_PORT=str(commerce_port),
                    INTERNAL_API_KEY="k" * 24, UPLOAD_DIR=str(tmp_path / "uploads")), chat_port, commerce_port


def test_kefu_commerce_is_the_service_process_and_stops_on_sigterm(empty_db, tmp_path):
    assert run_kefu(["migrate"], kefu_env(DATABASE_URL=empty_db)).returncode == 0
    env, _, port = service_env(empty_db, tmp_path)
    kefu = Kefu(["commerce"], env, tmp_path)
    try:
        kefu.wait_for("commerce_api listening", 60)
        assert wait_until(lambda: not refuses(port), 10)
        assert get_json(f"http://127.0.0.1:{port}/readyz")["code"] == 1
        assert kefu.children == []                       # exec'd: the service runs under kefu's own pid
        assert "commerce_api" in Path(f"/proc/{kefu.proc.pid}/cmdline").read_text()
        assert kefu.stop(signal.SIGTERM) == 0
        assert refuses(port)
    finally:
        kefu.kill()


@pytest.mark.parametrize("command, port_index", [("chat", 1), ("commerce", 2)])
def test_a_supervisor_sigkilling_kefu_leaves_no_server_on_the_port(empty_db, tmp_path, command, port_index):
    """As a supervisor runs it: its own process, a DATABASE_URL, SIGKILL to the pid it started."""
    assert run_kefu(["migrate"], kefu_env(DATABASE_URL=empty_db)).returncode == 0
    settings = service_env(empty_db, tmp_path)
    env, port = settings[0], settings[port_index]
    kefu = Kefu([command], env, tmp_path)
    try:
        assert wait_until(lambda: not refuses(port) or kefu.proc.poll() is not None, 60), kefu.output
        assert get_json(f"http://127.0.0.1:{port}/healthz")["code"] == 1
        kefu.children = children_of(kefu.proc.pid)      # for the clean-up, should the test fail
        kefu.proc.kill()
        kefu.proc.wait(timeout=STOP_TIMEOUT)
        assert wait_until(lambda: bindable(port), STOP_TIMEOUT), f"port {port} still held after SIGKILL"
    finally:
        kefu.kill()


def test_kefu_chat_exits_with_the_service_code():
    proc = run_kefu(["chat"], kefu_env(CHAT_PORT="abc"), timeout=60)
    assert proc.returncode == 2
    assert "chat_server: configuration error: CHAT_PORT" in proc.stderr


# ------------------------------------------------------------------------------- kefu demo

def _demo_env(var_dir: Path, **extra: str) -> tuple[dict[str, str], int, int]:
    chat_port, commerce_port = free_port(), free_port()
    while commerce_port == chat_port:
        commerce_port = free_port()
    return kefu_env(KEFU_VAR_DIR=str(var_dir), CHAT_PORT=str(chat_port), COMMERCE_PORT=str(commerce_port),
                    **extra), chat_port, commerce_port


def _private_dsn(output: str) -> tuple[str, int]:
    match = re.search(r"database\s+(postgresql://postgres@127\.0\.0\.1:(\d+)/kefu) \(private", output)
    assert match, output
    return match.group(1), int(match.group(2))


def _check_services(chat_port: int, commerce_port: int) -> None:
    for port in (chat_port, commerce_port):
        for probe in ("/healthz", "/readyz"):
            assert get_json(f"http://127.0.0.1:{port}{probe}")["code"] == 1, (port, probe)


def get_page(url: str) -> tuple[int, str]:
    with _no_proxy.open(url, timeout=5) as resp:
        return resp.status, resp.headers["Content-Type"]


def _check_banner(output: str, chat_port: int, commerce_port: int) -> None:
    """Every page the banner names answers, and every login it offers works as it says."""
    chat = f"http://127.0.0.1:{chat_port}"
    lines = output.splitlines()
    for line in (f"  kefu console         {chat}/kefu/",
                 f"  widget demo page     {chat}/widget/demo.html   (a goods page of Demo Shop; ?goods_id=13 for "
                 "Second Shop)",
                 f"  merchant embed demo  {chat}/kefu/embed-demo.html",
                 f"  commerce API         http://127.0.0.1:{commerce_port}/",
                 f"  chat WebSocket       ws://127.0.0.1:{chat_port}"):
        assert line in lines, output
    for path in ("/kefu/", "/widget/demo.html", "/widget/demo.html?goods_id=13", "/kefu/embed-demo.html"):
        assert get_page(chat + path) == (200, "text/html; charset=utf-8"), path
    assert get_json(f"http://127.0.0.1:{commerce_port}/api/goods/getGoodsDetail?goods_id=13")["data"]["shop_id"] == 2

    def console_login(account: str, password: str, kind: int) -> str:
        body = post_json(f"{chat}/kefuapi/account/login",
                         {"account": account, "password": password, "type": kind, "client": 5})
        assert body["code"] == 1, (account, body)
        return body["data"]["nickname"]

    account, password = re.search(r"^  platform admin +(\S+) / (\S+) +\(kefu console: 平台客服;", output, re.M).groups()
    assert console_login(account, password, 0) == "平台客服"
    accounts, password = re.search(r"^  merchant admins +(.+?) / (\S+) +\(kefu console: 商家客服;", output, re.M).groups()
    said = {}   # the rows under it: "<shop>: <account> is <kefu>, ..."
    for shop_row in re.findall(r"^ {23}[\w ]+: (.+)$", output, re.M):
        said.update(pair.split(" is ") for pair in shop_row.split(", "))
    assert sorted(said) == sorted(accounts.split(", ")) == ["shop1", "shop1b", "shop2"]
    for account, nickname in said.items():
        assert console_login(account, password, 1) == nickname
    first, last, password = re.search(r"^  buyers +(\d+) \.\.\. (\d+) / (\S+) +\(widget demo page\)$",
                                      output, re.M).groups()
    for mobile in (first, last):
        body = post_json(f"http://127.0.0.1:{commerce_port}/api/account/login",
                         {"mobile": mobile, "password": password, "client": 6})
        assert body["code"] == 1, (mobile, body)


@pytest.mark.slow
def test_demo_with_private_postgres_end_to_end(pg_folder):
    var_dir = pg_folder / "var"
    env, chat_port, commerce_port = _demo_env(var_dir)
    kefu = Kefu(["demo"], env, pg_folder)
    try:
        kefu.wait_for("Press Ctrl-C to stop.", BANNER_TIMEOUT)
        out = kefu.output
        assert f"ws://127.0.0.1:{chat_port}" in out
        assert f"http://127.0.0.1:{chat_port}/kefu/" in out
        assert f"http://127.0.0.1:{commerce_port}/" in out
        for login in ("admin / admin123456", "shop1, shop1b, shop2 / shop123456",
                      "13800000001 ... 13800000020 / user123456"):
            assert login in out
        dsn, pg_port = _private_dsn(out)
        assert (var_dir / "pg" / "PG_VERSION").exists()
        assert len((var_dir / "internal_api_key").read_text().strip()) == 48
        assert re.search(r"^commerce \| .*commerce_api listening", out, re.M)
        assert re.search(r"^chat     \| .*chat_server listening", out, re.M)

        _check_services(chat_port, commerce_port)
        if HAS_DEMO_DATA:
            body = post_json(f"http://127.0.0.1:{commerce_port}/api/account/login",
                             {"mobile": "13800000001", "password": "user123456", "client": 6})
            assert body["code"] == 1, body
        assert run_sync(fetchval(dsn, "SELECT count(*) FROM schema_migrations")) >= 1
        run_sync(fetchval(dsn, "CREATE TABLE kept_across_restarts (x int)"))

        assert len(kefu.children) == 2
        started = time.monotonic()
        assert kefu.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < STOP_TIMEOUT
        assert not any(alive(pid) for pid in kefu.children)
        assert refuses(chat_port) and refuses(commerce_port)
        assert refuses(pg_port)
        assert PgServer(var_dir / "pg").running_port() is None
        assert "private Postgres stopped" in kefu.output
    finally:
        kefu.kill()
        PgServer(var_dir / "pg").stop()


@pytest.mark.slow
def test_demo_restart_reuses_running_postgres_key_and_data(pg_folder):
    """A second `kefu demo` on the same folder keeps the data and the internal key; a Postgres that
    was already running there is used and left running (it is not this run's to stop)."""
    var_dir = pg_folder / "var"
    var_dir.mkdir()
    (var_dir / "internal_api_key").write_text("a-key-from-an-earlier-run-0123456789\n")
    server = PgServer(var_dir / "pg")
    server_dsn = server.start()
    try:
        run_sync(admin_sql(server_dsn, 'CREATE DATABASE "kefu"'))
        run_sync(admin_sql(with_database(server_dsn, "kefu"), "CREATE TABLE kept_across_restarts (x int)"))
        env, chat_port, commerce_port = _demo_env(var_dir)
        kefu = Kefu(["demo"], env, pg_folder)
        try:
            kefu.wait_for("Press Ctrl-C to stop.", BANNER_TIMEOUT)
            assert "reusing the private Postgres already running" in kefu.output
            dsn, pg_port = _private_dsn(kefu.output)
            assert pg_port == server.port
            assert (var_dir / "internal_api_key").read_text().strip() == "a-key-from-an-earlier-run-0123456789"
            _check_services(chat_port, commerce_port)
            # Ctrl-C in a terminal signals the whole foreground process group.
            assert kefu.stop(signal.SIGINT, group=True) == 0
            assert not any(alive(pid) for pid in kefu.children)
            assert run_sync(fetchval(dsn, "SELECT count(*) FROM kept_across_restarts")) == 0
            assert server.running_port() == server.port
        finally:
            kefu.kill()
    finally:
        server.stop()


@pytest.mark.slow
def test_demo_with_database_url_starts_no_postgres(empty_db, tmp_path):
    var_dir = tmp_path / "var"
    env, chat_port, commerce_port = _demo_env(var_dir, DATABASE_URL=empty_db)
    kefu = Kefu(["demo"], env, tmp_path)
    try:
        kefu.wait_for("Press Ctrl-C to stop.", BANNER_TIMEOUT)
        assert f"  database             {empty_db} (DATABASE_URL)" in kefu.output
        _check_services(chat_port, commerce_port)
        _check_banner(kefu.output, chat_port, commerce_port)
        assert not (var_dir / "pg").exists()
        assert "private Postgres" not in kefu.output
        assert run_sync(fetchval(empty_db, "SELECT count(*) FROM schema_migrations")) >= 1
        assert kefu.stop(signal.SIGTERM) == 0
        assert not any(alive(pid) for pid in kefu.children)
        # The given server is untouched: still serving.
        assert run_sync(fetchval(empty_db, "SELECT 1")) == 1
    finally:
        kefu.kill()


@pytest.mark.slow
def test_demo_stops_everything_when_a_service_dies(empty_db, tmp_path):
    var_dir = tmp_path / "var"
    env, chat_port, commerce_port = _demo_env(var_dir, DATABASE_URL=empty_db)
    kefu = Kefu(["demo"], env, tmp_path)
    try:
        kefu.wait_for("Press Ctrl-C to stop.", BANNER_TIMEOUT)
        chat_pid = next(pid for pid in kefu.children
                        if "chat_server" in Path(f"/proc/{pid}/cmdline").read_text())
        os.kill(chat_pid, signal.SIGKILL)
        assert kefu.proc.wait(timeout=STOP_TIMEOUT) == 1
        kefu._reader.join(timeout=5)
        assert "kefu: chat exited with code 137; its last output:" in kefu.output
        assert not any(alive(pid) for pid in kefu.children)
        assert refuses(commerce_port)
    finally:
        kefu.kill()


@pytest.mark.slow
def test_a_sigkilled_demo_takes_its_services_with_it(empty_db, tmp_path):
    env, chat_port, commerce_port = _demo_env(tmp_path / "var", DATABASE_URL=empty_db)
    kefu = Kefu(["demo"], env, tmp_path)
    try:
        kefu.wait_for("Press Ctrl-C to stop.", BANNER_TIMEOUT)
        assert len(kefu.children) == 2
        kefu.proc.kill()                                 # no chance to stop them itself
        kefu.proc.wait(timeout=STOP_TIMEOUT)
        assert wait_until(lambda: not any(alive(pid) for pid in kefu.children), STOP_TIMEOUT + 10), kefu.output
        assert wait_until(lambda: bindable(chat_port) and bindable(commerce_port), STOP_TIMEOUT)
    finally:
        kefu.kill()


def test_demo_refuses_a_taken_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env, _, _ = _demo_env(tmp_path / "var")
        env["CHAT_PORT"] = str(port)
        proc = run_kefu(["demo"], env)
    assert proc.returncode == 1
    assert f"kefu: CHAT_PORT={port} is taken on 127.0.0.1" in proc.stderr
    assert not (tmp_path / "var").exists()  # nothing was started
