"""What one load-test process is asked to do: a plain, JSON-serialisable description, so that the
same plan runs in-process or in a worker process."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCENARIOS = ("idle", "chat", "storm", "echo")

# Hard caps: the tool stops by itself and never opens an unbounded number of sockets.
MAX_CONNECTIONS = 100_000
MAX_DURATION = 3600
MAX_RATE = 200_000


@dataclass(frozen=True)
class Slot:
    """One connection to hold: a buyer (`user`) or a kefu. For a buyer `kefu_id` is the hint its
    `user_online` carries; for a kefu its own id."""
    role: str
    token: str
    shop_id: int
    kefu_id: int


@dataclass
class Plan:
    scenario: str
    url: str                             # ws_domain, e.g. ws://127.0.0.1:20211/
    run_id: str                          # prefix of every client_msg_id this run sends
    kefu_url: str | None = None          # kefu connect here instead (another node: cross-node delivery)
    slots: list[Slot] = field(default_factory=list)
    duration: float = 10.0               # the measured phase, seconds
    warmup: float = 0.0                  # sends before the measured phase, not counted
    drain: float = 5.0                   # after the last send: wait this long at most for echoes
    rate: float | None = None            # open loop: sends per second of this process; None: closed loop
    concurrency: int = 0                 # closed loop: senders (0: every buyer)
    kefu_share: float = 0.5              # open loop: fraction of sends made by kefu (replies)
    text_size: int = 32
    ping_interval: float = 10.0          # a ping after this long without any frame, as real clients
    ping_timeout: float = 10.0           # and drop the connection if nothing comes back in this long
    connect_concurrency: int = 128
    connect_timeout: float = 15.0
    sources: list[str | None] = field(default_factory=lambda: [None])
    user_online: bool = True             # buyers announce themselves after connecting (chat, storm)
    storm_interval: float = 5.0
    storm_fraction: float = 0.5
    reconnect_delay: float = 0.5         # after a drop, reconnect within this many seconds (spread)
    final_check: bool = True             # chat/storm: after draining, every buyer syncs to find losses
    worker: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["slots"] = [[s.role, s.token, s.shop_id, s.kefu_id] for s in self.slots]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        data = dict(data)
        data["slots"] = [Slot(*s) for s in data["slots"]]
        return cls(**data)
