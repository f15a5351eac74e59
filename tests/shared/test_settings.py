"""Configuration: every bad value is refused with a message naming its variable, and a service
started with one exits 2 with that message and no traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from shared.settings import Settings, SettingsError
from tests.shared.helpers import kefu_env


@pytest.mark.parametrize("variable, value", [
    ("CHAT_PORT", "abc"),
    ("CHAT_PORT", "70000"),
    ("COMMERCE_PORT", "0"),
    ("DATABASE_URL", "mysql://x"),
    ("PUBLIC_WS_URL", "http://x"),
    ("INTERNAL_API_KEY", "short"),
    ("TIME_ZONE", "Mars/Base"),
    ("LOG_LEVEL", "LOUD"),
    ("REDIS_URL", "http://localhost:6379"),
    ("CHAT_HOST", "bad host"),
])
def test_bad_value_names_its_variable(variable, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({variable: value})
    assert variable in str(info.value)


def test_pool_max_below_min_is_refused():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"DB_POOL_MIN": "5", "DB_POOL_MAX": "2"})
    assert "DB_POOL_MAX" in str(info.value) and "DB_POOL_MIN" in str(info.value)


def test_defaults_and_round_trip_through_the_environment():
    settings = Settings.from_env({"INTERNAL_API_KEY": "k" * 16, "CHAT_PORT": "3000",
                                  "DATABASE_URL": "postgresql://u:p@db:5432/kefu"})
    assert settings.chat_port == 3000 and settings.commerce_port == 20212
    assert settings.public_ws_url == "ws://127.0.0.1:3000"
    assert settings.public_chat_url == "http://127.0.0.1:3000"
    assert settings.time_zone == "Asia/Shanghai" and settings.log_level == "INFO"
    # What `kefu demo` hands its children reproduces exactly the same settings.
    assert Settings.from_env(settings.as_env()) == settings


def test_required_values_are_named_when_missing():
    settings = Settings.from_env({})
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings.require_database()
    with pytest.raises(SettingsError, match="INTERNAL_API_KEY"):
        settings.require_internal_key()


def test_service_with_bad_port_exits_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "chat_server"], capture_output=True, text=True, timeout=60,
                          env=kefu_env(CHAT_PORT="abc", DATABASE_URL="postgresql://x@127.0.0.1:1/x",
                                        INTERNAL_API_KEY="k" * 16))
    assert proc.returncode == 2
    assert "chat_server: configuration error: CHAT_PORT must be an integer" in proc.stderr
    assert "'abc'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
