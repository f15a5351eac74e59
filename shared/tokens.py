"""Login tokens: 32 lowercase hex characters (the shape likeshop clients expect), 128 random bits."""
import re
import secrets

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


def new_token() -> str:
    return secrets.token_hex(16)


def is_token_shaped(value: str | None) -> bool:
    return bool(value) and TOKEN_RE.match(value) is not None
