"""The `kefu` command: migrate, seed the demo data, run one service, or run the whole demo.

The services themselves always run as `python -m commerce_api` / `python -m chat_server`
processes, exactly as in production, so shared/ never imports them: `kefu chat` and `kefu commerce`
exec into them, `kefu demo` starts them as children that end with it.
"""
from __future__ import annotations

import argparse
import asyncio
import os
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
    if (args.buyers is None) != (args.tokens is None):
        raise CliError("--buyers and --tokens go together: how many extra buyers, and the file for their tokens")
    if (args.kefu is None) != (args.kefu_tokens is None):
        raise CliError("--kefu and --kefu-tokens go together: how many extra kefu, and the file for their tokens")
    settings = Settings.from_env()
    dsn = settings.require_database()
    for name in apply_migrations(dsn):
        print(f"applied {name}")
    load_demo_data(dsn, settings.upload_dir)
    print(f"demo data loaded (images in {settings.upload_dir})")
    if args.buyers is not None:
        from shared.demo_data import seed_bulk_buyers
        tokens = asyncio.run(seed_bulk_buyers(dsn, args.buyers, settings.user_token_ttl))
        args.tokens.write_text("".join(t + "\n" for t in tokens))
        print(f"{len(tokens)} load-test buyers (mobiles 139xxxxxxxx, client 6): tokens in {args.tokens}")
    if args.kefu is not None:
        from shared.demo_data import seed_bulk_kefu
        kefu = asyncio.run(seed_bulk_kefu(dsn, args.kefu, token_ttl=settings.kefu_token_ttl))
        args.kefu_tokens.write_text("".join(f"{kid} {shop} {token}\n" for kid, shop, token in kefu))
        print(f"{len(kefu)} load-test kefu of shop 1 (accounts lt_kefu00001...): 'id shop token' lines in "
              f"{args.kefu_tokens}")
    return 0


def add_seed_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--buyers", type=bounded(int, 1, 1_000_000), metavar="N",
                        help="also create N load-test buyers (mobiles 13900000001...), each with a live session "
                             "for client 6 (rerunnable: existing ones get new tokens)")
    parser.add_argument("--tokens", type=Path, metavar="FILE", help="write the N buyers' tokens here, one per line")
    parser.add_argument("--kefu", type=bounded(int, 1, 10_000), metavar="K",
                        help="also create K load-test kefu of shop 1, each with a live console session")
    parser.add_argument("--kefu-tokens", type=Path, metavar="FILE",
                        help="write the K kefu here, one 'kefu_id shop_id token' line each")


def bounded(kind: type, lo: float, hi: float):
    """An argparse type: `kind` (int or float) within [lo, hi], with a clear message otherwise."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be from {lo:g} to {hi:g}, got {value:g}")
        return value
    return parse


def cmd_loadtest(args: argparse.Namespace) -> int:
    from shared.loadtest.cli import run
    return run(args)


def add_loadtest_arguments(parser: argparse.ArgumentParser) -> None:
    from shared.loadtest.cli import add_arguments
    add_arguments(parser)


def run_service(module: str) -> int:
    """Become `python -m <module>` (exec, same pid): a supervisor's signals, SIGKILL included,
    reach the server itself, and no orphan is left holding the port. Returns only if exec fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, "-m", module])
    except OSError as exc:
        raise CliError(f"cannot start {module}: {exc}") from None


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
     "Become the commerce API process (python -m commerce_api) with this environment, as production runs it."),
    ("chat", cmd_service, "run the chat server (python -m chat_server)",
     "Become the chat server process (python -m chat_server) with this environment, as production runs it."),
    ("demo", cmd_demo, "run it all locally: private Postgres, demo data, both services",
     "Start a private Postgres under ./var/pg (or KEFU_VAR_DIR) unless DATABASE_URL is set, migrate, "
     "seed the demo data and run both services until Ctrl-C."),
    ("loadtest", cmd_loadtest, "drive a chat server with many protocol clients (idle, chat, storm)",
     "Load-test a chat server over its WebSocket protocol: hold idle connections, chat at a fixed rate or in a "
     "closed loop, or storm it with reconnects; live progress, a summary table, optional JSON and histogram. "
     "Loopback targets only unless --allow-remote."),
)

# Subcommands with options of their own.
ARGUMENTS = {"seed-demo": add_seed_demo_arguments, "loadtest": add_loadtest_arguments}


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
        command = sub.add_parser(name, help=help_line, description=description)
        command.set_defaults(func=handler)
        if name in ARGUMENTS:
            ARGUMENTS[name](command)
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
