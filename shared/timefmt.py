"""Times as the likeshop clients show them: "YYYY-MM-DD HH:MM:SS" in the mall's time zone."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_time(value: datetime | None, tz: str) -> str:
    if value is None:
        return ""
    return value.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def unix(value: datetime | None) -> int:
    return 0 if value is None else int(value.timestamp())
