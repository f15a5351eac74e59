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
    return _format_second(int(value.timestamp()), tz)


@lru_cache(maxsize=4096)
def _format_second(epoch: int, tz: str) -> str:
    # Messages arrive many per second: the string for a second is computed once.
    return datetime.fromtimestamp(epoch, zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def unix(value: datetime | None) -> int:
    return 0 if value is None else int(value.timestamp())
