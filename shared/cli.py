"""The `kefu` command: migrate, seed the demo data, run one service, or run the whole demo.

The services themselves are always started as `python -m commerce_api` / `python -m chat_server`
child processes, exactly as in production, so shared/ never imports them.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import asyncpg

from shared.migrate import MigrationError, migrate
from shared.pgserver import PgServerError
from shared.settings import Settings, SettingsError

SERVICE_MODULES = {"commerce": "commerce_api", "chat": "chat_server"}


class CliError(RuntimeError):
    """A failure worth one line on stderr and exit code 1, not a traceback."""


def apply_migrations(dsn: str) -> list[str]:
    try:
        return asyncio.run(migrate(dsn))
    except (MigrationError, asyncpg.PostgresError) as exc:
        raise CliError(f"migration failed: {exc}") from None
    except (OSError, asyncio.TimeoutError) as exc:
        raise CliError(f"cannot reach the database: {exc}") from None


def load_demo_data(dsn: str, upload_dir: Path) -> None:
    from shared.demo_data import seed_demo  # imported late: it is only needed by these commands
    asyncio.run(seed_demo(dsn, upload_dir))


def exit_code(returncode: int) -> int:
    """A child's return code as a shell would report it (killed by signal N → 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def cmd_migrate(args: argparse.Namespace) -> int:
    dsn = Settings.from_env().require_database()
    applied = apply_migrations(dsn)
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print("database schema up to date")
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    dsn = settings.require_database()
    for name in apply_migrations(dsn):
        print(f"applied {name}")
    load_demo_data(dsn, settings.upload_dir)
    print(f"demo data loaded (images in {settings.upload_dir})")
    return 0


def run_service(module: str) -> int:
    """Run `python -m <module>` with our environment; relay SIGINT/SIGTERM; return its exit code."""
    # Its own process group: a terminal's Ctrl-C reaches only us, and we pass it on exactly once.
    child = subprocess.Popen([sys.executable, "-m", module], process_group=0)

    def forward(signum: int, frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    return exit_code(child.wait())


def cmd_service(args: argparse.Namespace) -> int:
    return run_service(SERVICE_MODULES[args.command])


def cmd_demo(args: argparse.Namespace) -> int:
    from shared.demo_runner import run_demo
    return run_demo()


COMMANDS = (
    # name, handler, one-line help, description
    ("migrate", cmd_migrate, "apply pending database migrations to DATABASE_URL",
     "Apply the pending migrations of sql/ to DATABASE_URL."),
    ("seed-demo", cmd_seed_demo, "load the demo data into DATABASE_URL (idempotent)",
     "Migrate DATABASE_URL, then load the demo data (idempotent); demo images go to UPLOAD_DIR."),
    ("commerce", cmd_service, "run the commerce API (python -m commerce_api)",
     "Run the commerce API as a child process with this environment, as production does."),
    ("chat", cmd_service, "run the chat server (python -m chat_server)",
     "Run the chat server as a child process with this environment, as production does."),
    ("demo", cmd_demo, "run it all locally: private Postgres, demo data, both services",
     "Start a private Postgres under ./var/pg (or KEFU_VAR_DIR) unless DATABASE_URL is set, migrate, "
     "seed the demo data and run both services until Ctrl-C."),
)


class HelpFormatter(argparse.HelpFormatter):
    """argparse sizes the help column without the indent of the subcommand list, which pushed the
    help of the longer names onto a line of its own."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        for choice in getattr(action, "_choices_actions", ()):
            self._action_max_length = max(self._action_max_length,
                                          len(choice.metavar) + 2 * self._indent_increment)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kefu", description="Customer-service chat server and commerce API: operations and demo.",
        formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, handler, help_line, description in COMMANDS:
        sub.add_parser(name, help=help_line, description=description).set_defaults(func=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except SettingsError as exc:
        print(f"kefu: configuration error: {exc}", file=sys.stderr)
        code = 2
    except (CliError, PgServerError) as exc:
        print(f"kefu: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    raise SystemExit(code)


if __name__ == "__main__":
    main()
