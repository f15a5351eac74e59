"""The processes a benchmark measures, all private to one harness run and all on loopback: a
Postgres server of its own (its every process is the bench database's), the commerce API, chat
server nodes, the bare echo server and Redis."""
from __future__ import annotations

import asyncio
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.procstat import children
from shared.demo_data import seed_bulk_buyers, seed_bulk_kefu, seed_demo
from shared.migrate import migrate
from shared.pgserver import PgServer, free_port
from shared.settings import REPO_ROOT

DATABASE = "kefu_bench"
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def raise_open_files() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; children (the servers) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {proc.returncode}")
        try:
            with _no_proxy.open(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Stack:
    """Everything a bench run starts; `close()` stops it all."""
    workdir: Path
    pg: PgServer | None = None
    dsn: str = ""
    tokens_file: Path | None = None
    kefu_file: Path | None = None
    internal_key: str = field(default_factory=lambda: secrets.token_hex(24))
    services: list[Service] = field(default_factory=list)

    # ----------------------------------------------------------------------- Postgres

    def start_postgres(self, buyers: int, kefu: int) -> None:
        self.pg = PgServer(self.workdir / "pg")
        server_dsn = self.pg.start()
        self.dsn = server_dsn.rsplit("/", 1)[0] + "/" + DATABASE

        async def prepare() -> list[str]:
            conn = await asyncpg.connect(server_dsn)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
            finally:
                await conn.close()
            await migrate(self.dsn)
            await seed_demo(self.dsn, self.workdir / "uploads")
            return await seed_bulk_buyers(self.dsn, buyers), await seed_bulk_kefu(self.dsn, kefu)
        tokens, agents = asyncio.run(prepare())
        self.tokens_file = self.workdir / "tokens.txt"
        self.tokens_file.write_text("".join(t + "\n" for t in tokens))
        self.kefu_file = self.workdir / "kefu.txt"
        self.kefu_file.write_text("".join(f"{k} {shop} {t}\n" for k, shop, t in agents))

    def postgres_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, WAL writer, checkpointer...)."""
        pidfile = self.pg.datadir / "postmaster.pid"
        try:
            postmaster = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [postmaster, *children(postmaster)]

    # ----------------------------------------------------------------------- services

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "COMMERCE_", "PUBLIC_"))}
        env.update({"DATABASE_URL": self.dsn, "INTERNAL_API_KEY": self.internal_key,
                    "UPLOAD_DIR": str(self.workdir / "uploads"), "LOG_LEVEL": "WARNING"})
        env.pop("REDIS_URL", None)
        env.update(extra)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], port: int) -> Service:
        log = self.workdir / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, process_group=0)
        service = Service(name, proc, port, log)
        self.services.append(service)
        return service

    def start_commerce(self) -> Service:
        port = free_port()
        svc = self._spawn("commerce", [sys.executable, "-m", "commerce_api"],
                          self.env(COMMERCE_PORT=str(port)), port)
        wait_http(f"{svc.http_url}/healthz", 60, svc.proc)
        return svc

    def start_chat(self, name: str, commerce: Service, **extra: str) -> Service:
        port = free_port()
        env = self.env(CHAT_PORT=str(port), COMMERCE_URL=commerce.http_url, COMMERCE_PORT=str(commerce.port),
                       **extra)
        svc = self._spawn(name, [sys.executable, "-m", "chat_server"], env, port)
        wait_http(f"{svc.http_url}/healthz", 60, svc.proc)
        return svc

    def start_echo(self) -> Service:
        port = free_port()
        svc = self._spawn("echo", [sys.executable, str(REPO_ROOT / "bench" / "echo_server.py"), "--port", str(port)],
                          self.env(), port)
        wait_port(port, 30)
        return svc

    def start_redis(self) -> Service:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        port = free_port()
        folder = self.workdir / "redis"
        folder.mkdir(exist_ok=True)
        svc = self._spawn("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", str(folder)], self.env(), port)
        wait_port(port, 30)
        return svc

    def stop(self, service: Service) -> None:
        service.stop()
        if service in self.services:
            self.services.remove(service)

    def close(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()
        if self.pg is not None:
            self.pg.stop()
