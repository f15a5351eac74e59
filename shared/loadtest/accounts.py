"""Who the load tester connects as: tokens from logging in the demo accounts over HTTP, as real
clients get them, or from a token file (`kefu seed-demo --buyers N --tokens FILE`)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from shared.tokens import is_token_shaped

DEMO_BUYERS = 20
DEMO_BUYER_PASSWORD = "user123456"
BUYER_CLIENT = 6
KEFU_CLIENT = 5
# The demo back-office accounts, each bound to one kefu: account → (login type, password).
DEMO_KEFU = {"admin": (0, "admin123456"), "shop1": (1, "shop123456"), "shop1b": (1, "shop123456"),
             "shop2": (1, "shop123456")}


class LoginFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Kefu:
    id: int
    shop_id: int
    token: str


async def _post(session: aiohttp.ClientSession, url: str, body: dict) -> dict:
    try:
        async with session.post(url, json=body) as resp:
            envelope = await resp.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise LoginFailed(f"POST {url}: {exc!r}") from None
    if not isinstance(envelope, dict) or envelope.get("code") != 1:
        raise LoginFailed(f"POST {url} refused: {envelope.get('msg') if isinstance(envelope, dict) else envelope!r}")
    return envelope["data"]


async def login_kefu(chat_http: str, accounts: list[str]) -> list[Kefu]:
    """Log the demo back-office accounts in as their kefu (`/kefuapi/account/login`)."""
    unknown = [a for a in accounts if a not in DEMO_KEFU]
    if unknown:
        raise LoginFailed(f"not a demo kefu account: {', '.join(unknown)} (known: {', '.join(DEMO_KEFU)})")
    url = chat_http.rstrip("/") + "/kefuapi/account/login"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), trust_env=False) as session:
        answers = await asyncio.gather(*(
            _post(session, url, {"account": a, "password": DEMO_KEFU[a][1], "type": DEMO_KEFU[a][0],
                                 "client": KEFU_CLIENT}) for a in accounts))
    return [Kefu(int(d["id"]), int(d["shop_id"]), d["token"]) for d in answers]


async def login_demo_buyers(commerce_url: str, count: int) -> list[str]:
    """Tokens of demo buyers 1..count (mobiles 13800000001...) from the commerce API's login.
    Logging in replaces a buyer's earlier client-6 token, as a real re-login does."""
    if not 1 <= count <= DEMO_BUYERS:
        raise LoginFailed(f"the demo has {DEMO_BUYERS} buyers; use a token file for more")
    url = commerce_url.rstrip("/") + "/api/account/login"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60), trust_env=False) as session:
        answers = await asyncio.gather(*(
            _post(session, url, {"mobile": f"138{n:08d}", "password": DEMO_BUYER_PASSWORD, "client": BUYER_CLIENT})
            for n in range(1, count + 1)))
    return [d["token"] for d in answers]


def read_token_file(path: Path) -> list[str]:
    """One buyer token (client 6) per line; blank lines and #comments are skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise LoginFailed(f"cannot read the token file: {exc}") from None
    tokens = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    bad = [t for t in tokens if not is_token_shaped(t)]
    if bad:
        raise LoginFailed(f"{path}: {len(bad)} lines are not tokens (32 lowercase hex), e.g. {bad[0][:40]!r}")
    if not tokens:
        raise LoginFailed(f"{path}: no tokens")
    return tokens


def read_kefu_file(path: Path) -> list[Kefu]:
    """One kefu per line: `kefu_id shop_id token` (kefu seed-demo --kefu K --kefu-tokens FILE)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise LoginFailed(f"cannot read the kefu token file: {exc}") from None
    kefu = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or not is_token_shaped(parts[2]):
            raise LoginFailed(f"{path}:{number}: expected 'kefu_id shop_id token', got {line[:60]!r}")
        kefu.append(Kefu(int(parts[0]), int(parts[1]), parts[2]))
    if not kefu:
        raise LoginFailed(f"{path}: no kefu")
    return kefu
