"""The load tester's limits on where it sends traffic and how many sockets it may hold.

Targets must be loopback addresses (127.0.0.0/8, ::1, `localhost`) unless the user says
`--allow-remote`: a load test is aimed at a server one runs oneself, and a typo must not aim it at
somebody else's. Host names other than `localhost` are refused without resolving them.
"""
from __future__ import annotations

import ipaddress
import math
import resource
from urllib.parse import urlsplit

# Ports per source address (32768-60999 by default); stay well under it, TIME_WAIT sockets of an
# earlier run hold ports too.
CONNECTIONS_PER_SOURCE = 16_000
# File descriptors a process keeps for itself besides its connections (stdio, epoll, DNS, logs).
FD_RESERVE = 200


class TargetRefused(ValueError):
    """A URL the load tester will not send traffic to."""


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_target(url: str, allow_remote: bool, schemes: tuple[str, ...]) -> str:
    """`url` if the load tester may use it; TargetRefused otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise TargetRefused(f"{url!r} is not a {' or '.join(s + '://' for s in schemes)} URL")
    if not allow_remote and not is_loopback_host(parts.hostname):
        raise TargetRefused(f"refusing to load-test {parts.hostname}: not a loopback address (127.0.0.0/8, ::1, "
                            "localhost); pass --allow-remote to aim at a server you run elsewhere")
    return url


def source_addresses(target_host: str, connections: int, wanted: int | None) -> list[str | None]:
    """Loopback source addresses to spread connections over (127.0.0.2, 127.0.0.3, ...), so that
    more connections than one address has ephemeral ports can be opened. [None] (let the kernel
    choose) for targets that are not IPv4 loopback."""
    host = target_host.strip("[]").lower()
    try:
        v4_loopback = host == "localhost" or (ipaddress.ip_address(host).version == 4
                                              and ipaddress.ip_address(host).is_loopback)
    except ValueError:
        v4_loopback = False
    if not v4_loopback:
        return [None]
    count = wanted if wanted else max(1, math.ceil(connections / CONNECTIONS_PER_SOURCE))
    return [f"127.0.0.{2 + i}" for i in range(min(count, 250))]


def raise_open_files() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft if soft != resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    except (ValueError, OSError):
        return soft


def connections_per_process() -> int:
    """How many connections one process can hold once its open-file limit is raised."""
    return max(1, raise_open_files() - FD_RESERVE)
