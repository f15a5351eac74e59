"""Fixtures of the tests of the `kefu` command, migrations and the private Postgres."""
from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import database


@pytest.fixture
def empty_db(pg_server_dsn: str) -> str:
    """A brand-new database with nothing in it."""
    with database(pg_server_dsn, f"kefu_empty_{secrets.token_hex(5)}") as dsn:
        yield dsn


@pytest.fixture
def pg_folder() -> Path:
    """A folder for a private Postgres, outside pytest's tmp_path: any pytest session starting on
    this machine resets /tmp/pytest-of-<user> to mode 0700, which the server's own user (postgres,
    when the tests run as root) then cannot cross."""
    folder = Path(tempfile.mkdtemp(prefix="kefu-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
