"""Configuration: every environment variable both services read, parsed once into `Settings`.

A bad value fails at start-up with a `SettingsError` naming the variable, what it expects and what
it got; nothing reads `os.environ` after this.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(ValueError):
    """An environment variable has a value the services cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer from {lo} to {hi}, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be an integer from {lo} to {hi}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {raw!r}")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise SettingsError(f"{name} must be a comma-separated list of origins like https://shop.example.com, "
                                f"got {origin!r}")
    return origins


def _url(env: Mapping[str, str], name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.netloc:
        raise SettingsError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, got {raw!r}")
    return raw


def _host(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    if any(c.isspace() for c in raw) or "/" in raw:
        raise SettingsError(f"{name} must be a host name or IP address, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    redis_url: str | None
    chat_host: str
    chat_port: int
    commerce_host: str
    commerce_port: int
    commerce_url: str
    public_base_url: str
    public_ws_url: str
    public_chat_url: str
    upload_dir: Path
    upload_max_bytes: int
    internal_api_key: str | None
    user_token_ttl: int
    kefu_token_ttl: int
    admin_token_ttl: int
    time_zone: str
    db_pool_min: int
    db_pool_max: int
    commerce_timeout: float
    log_level: str
    # chat server
    idle_timeout: int
    max_frame_bytes: int
    max_text_length: int
    outbox_frames: int
    outbox_bytes: int
    kefu_capacity: int
    sync_replay_limit: int
    presence_ttl: int
    group_commit: bool
    group_commit_max_batch: int
    rate_per_connection: int
    rate_per_principal: int
    connection_rate_per_ip: int
    max_connections_per_principal: int
    allowed_origins: tuple[str, ...]
    # wsproc:
    sync_replay_max_bytes: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        chat_port = _int(env, "CHAT_PORT", 20211, 1, 65535)
        commerce_port = _int(env, "COMMERCE_PORT", 20212, 1, 65535)
        public_ws_url = _url(env, "PUBLIC_WS_URL", f"ws://127.0.0.1:{chat_port}", ("ws", "wss"))
        default_chat_url = "http" + public_ws_url[2:] if public_ws_url else ""
        key = env.get("INTERNAL_API_KEY", "").strip() or None
        if key is not None and len(key) < 16:
            raise SettingsError("INTERNAL_API_KEY must be at least 16 characters long")
        tz = env.get("TIME_ZONE", "").strip() or "Asia/Shanghai"
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"TIME_ZONE must be an IANA time zone name, got {tz!r}") from None
        log_level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
        pool_min = _int(env, "DB_POOL_MIN", 2, 0, 1000)
        pool_max = _int(env, "DB_POOL_MAX", 10, 1, 1000)
        if pool_max < pool_min:
            raise SettingsError(f"DB_POOL_MAX ({pool_max}) must not be below DB_POOL_MIN ({pool_min})")
        timeout_ms = _int(env, "COMMERCE_TIMEOUT_MS", 2000, 50, 60000)
        # wsproc: a replay goes through the connection's outbound queue, so it must fit in it
        outbox_bytes = _int(env, "CHAT_OUTBOX_BYTES", 4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024)
        replay_bytes = _int(env, "SYNC_REPLAY_MAX_BYTES", min(1024 * 1024, outbox_bytes // 2), 4096, 1024 * 1024 * 1024)
        if replay_bytes > outbox_bytes:
            raise SettingsError(f"SYNC_REPLAY_MAX_BYTES ({replay_bytes}) must not be above CHAT_OUTBOX_BYTES "
                                f"({outbox_bytes}): a replay is queued on the connection at once")
        return cls(
            database_url=_url(env, "DATABASE_URL", None, ("postgres", "postgresql")),
            redis_url=_url(env, "REDIS_URL", None, ("redis", "rediss", "unix")),
            chat_host=_host(env, "CHAT_HOST", "127.0.0.1"),
            chat_port=chat_port,
            commerce_host=_host(env, "COMMERCE_HOST", "127.0.0.1"),
            commerce_port=commerce_port,
            commerce_url=_url(env, "COMMERCE_URL", f"http://127.0.0.1:{commerce_port}", ("http", "https")).rstrip("/"),
            public_base_url=_slash(_url(env, "PUBLIC_BASE_URL", f"http://127.0.0.1:{commerce_port}/", ("http", "https"))),
            public_ws_url=public_ws_url,
            public_chat_url=_url(env, "PUBLIC_CHAT_URL", default_chat_url, ("http", "https")).rstrip("/"),
            upload_dir=Path(env.get("UPLOAD_DIR", "").strip() or REPO_ROOT / "var" / "uploads").resolve(),
            upload_max_bytes=_int(env, "UPLOAD_MAX_BYTES", 5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
            internal_api_key=key,
            user_token_ttl=_int(env, "USER_TOKEN_TTL", 7 * 86400, 60, 365 * 86400),
            kefu_token_ttl=_int(env, "KEFU_TOKEN_TTL", 86400, 60, 365 * 86400),
            admin_token_ttl=_int(env, "ADMIN_TOKEN_TTL", 86400, 60, 365 * 86400),
            time_zone=tz,
            db_pool_min=pool_min,
            db_pool_max=pool_max,
            commerce_timeout=timeout_ms / 1000,
            log_level=log_level,
            idle_timeout=_int(env, "CHAT_IDLE_TIMEOUT", 60, 5, 3600),
            max_frame_bytes=_int(env, "CHAT_MAX_FRAME_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
            max_text_length=_int(env, "CHAT_MAX_TEXT_LENGTH", 2000, 1, 100_000),
            outbox_frames=_int(env, "CHAT_OUTBOX_FRAMES", 1000, 10, 1_000_000),
            outbox_bytes=outbox_bytes,
            kefu_capacity=_int(env, "KEFU_CAPACITY", 50, 1, 100_000),
            sync_replay_limit=_int(env, "SYNC_REPLAY_LIMIT", 500, 1, 100_000),
            presence_ttl=_int(env, "PRESENCE_TTL", 15, 3, 600),
            group_commit=_bool(env, "GROUP_COMMIT", True),
            group_commit_max_batch=_int(env, "GROUP_COMMIT_MAX_BATCH", 256, 1, 10_000),
            rate_per_connection=_int(env, "CHAT_RATE_PER_CONNECTION", 20, 0, 100_000),
            rate_per_principal=_int(env, "CHAT_RATE_PER_PRINCIPAL", 50, 0, 1_000_000),
            connection_rate_per_ip=_int(env, "CHAT_CONNECTION_RATE_PER_IP", 20, 0, 1_000_000),
            max_connections_per_principal=_int(env, "CHAT_MAX_CONNECTIONS_PER_PRINCIPAL", 32, 0, 100_000),
            allowed_origins=_origins(env, "CHAT_ALLOWED_ORIGINS"),
            # wsproc:
            sync_replay_max_bytes=replay_bytes,
        )

    def require_database(self) -> str:
        if not self.database_url:
            raise SettingsError("DATABASE_URL is not set (e.g. postgresql://user@127.0.0.1:5432/kefu); "
                                "`kefu demo` starts a private Postgres when it is unset")
        return self.database_url

    def require_internal_key(self) -> str:
        if not self.internal_api_key:
            raise SettingsError("INTERNAL_API_KEY is not set: both services need the same secret "
                                "(16+ characters) for the chat server's calls to the commerce API")
        return self.internal_api_key

    def as_env(self) -> dict[str, str]:
        """The variables that reproduce these settings in a child process."""
        names = {
            "database_url": "DATABASE_URL", "redis_url": "REDIS_URL", "chat_host": "CHAT_HOST",
            "chat_port": "CHAT_PORT", "commerce_host": "COMMERCE_HOST", "commerce_port": "COMMERCE_PORT",
            "commerce_url": "COMMERCE_URL", "public_base_url": "PUBLIC_BASE_URL",
            "public_ws_url": "PUBLIC_WS_URL", "public_chat_url": "PUBLIC_CHAT_URL",
            "upload_dir": "UPLOAD_DIR", "upload_max_bytes": "UPLOAD_MAX_BYTES",
            "internal_api_key": "INTERNAL_API_KEY", "user_token_ttl": "USER_TOKEN_TTL",
            "kefu_token_ttl": "KEFU_TOKEN_TTL", "admin_token_ttl": "ADMIN_TOKEN_TTL",
            "time_zone": "TIME_ZONE", "db_pool_min": "DB_POOL_MIN", "db_pool_max": "DB_POOL_MAX",
            "log_level": "LOG_LEVEL", "idle_timeout": "CHAT_IDLE_TIMEOUT",
            "max_frame_bytes": "CHAT_MAX_FRAME_BYTES", "max_text_length": "CHAT_MAX_TEXT_LENGTH",
            "outbox_frames": "CHAT_OUTBOX_FRAMES", "outbox_bytes": "CHAT_OUTBOX_BYTES",
            "kefu_capacity": "KEFU_CAPACITY", "sync_replay_limit": "SYNC_REPLAY_LIMIT",
            "presence_ttl": "PRESENCE_TTL", "group_commit_max_batch": "GROUP_COMMIT_MAX_BATCH",
            "rate_per_connection": "CHAT_RATE_PER_CONNECTION", "rate_per_principal": "CHAT_RATE_PER_PRINCIPAL",
            "connection_rate_per_ip": "CHAT_CONNECTION_RATE_PER_IP",
            "max_connections_per_principal": "CHAT_MAX_CONNECTIONS_PER_PRINCIPAL",
            # wsproc:
            "sync_replay_max_bytes": "SYNC_REPLAY_MAX_BYTES",
        }
        env = {var: str(getattr(self, attr)) for attr, var in names.items() if getattr(self, attr) is not None}
        env["COMMERCE_TIMEOUT_MS"] = str(int(self.commerce_timeout * 1000))
        env["GROUP_COMMIT"] = "1" if self.group_commit else "0"
        env["CHAT_ALLOWED_ORIGINS"] = ",".join(self.allowed_origins)
        return env


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"

