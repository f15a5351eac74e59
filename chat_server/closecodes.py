"""WebSocket close codes the server uses, as data: clients act on the code, people read the reason."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CloseCode:
    code: int
    reason: str
    reconnect: bool   # whether a well-behaved client should reconnect
    meaning: str


AUTH_FAILED = CloseCode(4001, "authentication failed", False,
                        "token missing, malformed, unknown, expired or logged out; log in again")
FORBIDDEN = CloseCode(4003, "forbidden", False,
                      "principal disabled or deleted, or a shop it may not use")
REPLACED = CloseCode(4004, "replaced", False, "a newer login replaced this one")
RATE_LIMITED = CloseCode(4008, "rate limited", True, "too many frames or connections; back off, then reconnect")
SLOW_CONSUMER = CloseCode(4009, "slow consumer", True,
                          "the client did not read its frames fast enough; reconnect and `sync`")
IDLE = CloseCode(4010, "idle timeout", True, "nothing received for the idle limit; reconnect when needed")
POLICY = CloseCode(1008, "policy violation", False, "binary or undecodable frames, or a forbidden Origin")
TOO_LARGE = CloseCode(1009, "frame too large", False, "a frame exceeded the size limit")
UNAVAILABLE = CloseCode(1013, "try again later", True, "the database is unreachable; reconnect shortly")
RESTARTING = CloseCode(1012, "server restarting", True, "the node is shutting down; reconnect (elsewhere) and `sync`")

ALL = (AUTH_FAILED, FORBIDDEN, REPLACED, RATE_LIMITED, SLOW_CONSUMER, IDLE, POLICY, TOO_LARGE, UNAVAILABLE, RESTARTING)
