"""Password hashing: argon2id for everything new; likeshop's salted md5 verified once, then rehashed."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_unknown_account_hash: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def legacy_md5(password: str, salt: str) -> str:
    """likeshop's create_password(): md5(salt . md5(password . salt))."""
    inner = hashlib.md5((password + salt).encode()).hexdigest()
    return hashlib.md5((salt + inner).encode()).hexdigest()


def verify_password(stored: str, salt: str, password: str) -> tuple[bool, str | None]:
    """Check `password` against a stored hash.

    Returns (ok, new_hash): new_hash is set when the stored hash is legacy or outdated and the
    caller should store the replacement.
    """
    if stored.startswith("$argon2"):
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False, None
        return True, (_hasher.hash(password) if _hasher.check_needs_rehash(stored) else None)
    if stored and hmac.compare_digest(stored, legacy_md5(password, salt)):
        return True, _hasher.hash(password)
    return False, None


async def check_password(stored: str, salt: str, password: str) -> tuple[bool, str | None]:
    """`verify_password` off the event loop: argon2 spends ~50 ms of CPU by design."""
    return await asyncio.to_thread(verify_password, stored, salt, password)


async def make_password(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def check_account_password(account: Any, password: str) -> tuple[bool, str | None]:
    """`check_password` for a login by account name: `account` is its row (a dict or a record with
    `password` and `salt`), or None when no such account exists.

    An unknown account (None) is checked against an argon2 hash nobody knows the password of, so
    that it costs as much time as a wrong password and the answer time does not reveal accounts.
    """
    global _unknown_account_hash
    if account is None:
        if _unknown_account_hash is None:
            _unknown_account_hash = await make_password(secrets.token_hex(16))
        await check_password(_unknown_account_hash, "", password)
        return False, None
    return await check_password(account["password"], account["salt"], password)
