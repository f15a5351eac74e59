"""Output shaping shared by the buyer and internal views: file URLs and order times.

The buyer API answers absolute file URLs, as the mall's clients put them straight into <image>
tags; the internal API hands the chat server the stored relative paths, which its clients prefix
with `base_domain` themselves (spec §3.1 `from_avatar`).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from shared.settings import Settings
from shared.timefmt import format_time
from shared.urls import file_url


def format_date(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d")


def order_out(order: dict[str, Any], settings: Settings, *, absolute_urls: bool) -> dict[str, Any]:
    """An order from commerce_api.data.orders with its times formatted (and its images absolute
    for the buyer API)."""
    for key in ("create_time", "pay_time"):
        if key in order:
            order[key] = format_time(order[key], settings.time_zone)
    if absolute_urls:
        order["shop"]["logo"] = file_url(settings.public_base_url, order["shop"]["logo"])
        for line in order["order_goods"]:
            line["image"] = file_url(settings.public_base_url, line["image"])
    return order
