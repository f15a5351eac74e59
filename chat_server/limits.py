"""Rate and size limits of the WebSocket endpoint, as token buckets (configurable, 0 = unlimited):
frames per second per connection and per principal (a sync replay charged by its size), new
connections per second per client IP, connections per principal on a node, and an Origin
allow-list."""
from __future__ import annotations

import time

from shared.settings import Settings

MAX_TRACKED = 100_000      # IP and principal buckets kept; past that, idle ones are forgotten
# A sync replay costs one frame of the rate limit per this many bytes it sends: asking for the same
# replay again and again must not turn a 20 frames/s budget into megabytes a second.
REPLAY_BYTES_PER_FRAME = 16 * 1024


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def charge(self, cost: float, now: float) -> None:
        """Take `cost` tokens, into debt if need be: frames are refused until it is paid back."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate) - cost
        self.stamp = now

    def idle(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class Limits:
    def __init__(self, settings: Settings):
        self.conn_rate = settings.rate_per_connection
        self.principal_rate = settings.rate_per_principal
        self.ip_rate = settings.connection_rate_per_ip
        self.max_connections = settings.max_connections_per_principal
        self.origins = frozenset(o.rstrip("/") for o in settings.allowed_origins)
        self._ip: dict[str, TokenBucket] = {}
        self._principal: dict[str, TokenBucket] = {}

    def origin_allowed(self, origin: str | None) -> bool:
        """No list: any origin. With a list, a browser's Origin must be on it; native apps send none."""
        return not self.origins or origin is None or origin.rstrip("/") in self.origins

    def new_connection_allowed(self, ip: str | None) -> bool:
        if not self.ip_rate:
            return True
        return self._bucket(self._ip, ip or "?", self.ip_rate).take(time.monotonic())

    def too_many_connections(self, held: int) -> bool:
        return bool(self.max_connections) and held >= self.max_connections

    def connection_bucket(self) -> TokenBucket | None:
        return TokenBucket(self.conn_rate, 2 * self.conn_rate) if self.conn_rate else None

    def frame_allowed(self, conn_bucket: TokenBucket | None, topic: str) -> bool:
        now = time.monotonic()
        if conn_bucket is not None and not conn_bucket.take(now):
            return False
        if self.principal_rate and not self._bucket(self._principal, topic, self.principal_rate).take(now):
            return False
        return True

    def charge_replay(self, conn_bucket: TokenBucket | None, topic: str, nbytes: int) -> None:
        """Charge a sync replay of `nbytes` to the connection's and the principal's budgets."""
        cost = nbytes / REPLAY_BYTES_PER_FRAME
        now = time.monotonic()
        if conn_bucket is not None:
            conn_bucket.charge(cost, now)
        if self.principal_rate:
            self._bucket(self._principal, topic, self.principal_rate).charge(cost, now)

    def _bucket(self, table: dict[str, TokenBucket], key: str, rate: float) -> TokenBucket:
        bucket = table.get(key)
        if bucket is None:
            if len(table) >= MAX_TRACKED:
                now = time.monotonic()
                for stale in [k for k, b in table.items() if b.idle(now)]:
                    del table[stale]
            bucket = table[key] = TokenBucket(rate, 2 * rate)
        return bucket
