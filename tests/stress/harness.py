"""Real processes for the stress test: a private redis-server that can be killed and restarted on
the same port, chat nodes and the commerce API as `python -m ...` subprocesses, and what /proc
says about a process's TCP connections (to find leaked sockets and orphaned database backends)."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from shared.settings import REPO_ROOT

# Variables a child must not inherit from whoever runs the tests: the test decides them all.
_OWN_VARS = ("DATABASE_URL", "REDIS_URL", "CHAT_HOST", "CHAT_PORT", "COMMERCE_HOST", "COMMERCE_PORT", "COMMERCE_URL",
             "INTERNAL_API_KEY", "PRESENCE_TTL", "CHAT_IDLE_TIMEOUT", "DB_POOL_MIN", "DB_POOL_MAX", "LOG_LEVEL",
             "UPLOAD_DIR", "PUBLIC_WS_URL", "PUBLIC_BASE_URL", "PUBLIC_CHAT_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OWN_VARS}
    env.update(extra)
    return env


@dataclass
class Proc:
    """One child process, restartable with the same command, environment and log file."""
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int
    proc: subprocess.Popen | None = None
    starts: int = 0
    exit_codes: list[int] = field(default_factory=list)

    def start(self) -> None:
        log = open(self.log_path, "ab")
        log.write(f"---- start {self.starts + 1} ----\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after `timeout`."""
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exit_codes.append(code)
        return code

    def kill(self) -> None:
        """SIGKILL and reap (always safe to call)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def redis_proc(folder: Path, port: int) -> Proc:
    binary = shutil.which("redis-server")
    assert binary is not None
    return Proc("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--dir", str(folder)], dict(os.environ), folder / "redis.log", port)


def service_proc(name: str, module: str, port: int, env: dict[str, str], folder: Path) -> Proc:
    return Proc(name, [sys.executable, "-m", module], child_env(env), folder / f"{name}.log", port)


async def wait_ready(session: aiohttp.ClientSession, port: int, timeout: float) -> bool:
    """Until GET /readyz answers 200 (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(f"http://127.0.0.1:{port}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                if r.status == 200:
                    return True
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    return False


# ------------------------------------------------------------------------------- /proc helpers

@dataclass(frozen=True)
class TcpSocket:
    local_port: int
    remote_port: int
    state: int         # 1 ESTABLISHED, 10 LISTEN, ...


def _tcp_table() -> dict[int, TcpSocket]:
    """Every TCP socket of this network namespace by inode."""
    table: dict[int, TcpSocket] = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(path).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, state, inode = parts[1], parts[2], parts[3], int(parts[9])
            if inode:
                table[inode] = TcpSocket(int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16),
                                         int(state, 16))
    return table


def tcp_sockets(pid: int) -> list[TcpSocket]:
    """The TCP sockets process `pid` holds open."""
    inodes = []
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.append(int(target[8:-1]))
    except OSError:
        return []
    table = _tcp_table()
    return [table[i] for i in inodes if i in table]


ESTABLISHED, LISTEN = 1, 10


def connections_to(pid: int, port: int) -> list[TcpSocket]:
    """Established connections of `pid` to a server on `port`."""
    return [s for s in tcp_sockets(pid) if s.state == ESTABLISHED and s.remote_port == port]


def accepted_on(pid: int, port: int) -> list[TcpSocket]:
    """Established connections `pid` accepted on its listening `port`."""
    return [s for s in tcp_sockets(pid) if s.state == ESTABLISHED and s.local_port == port]


def stop_all(procs: list[Proc]) -> None:
    for p in procs:
        p.signal(signal.SIGKILL)
    for p in procs:
        p.kill()
