"""Which N a new pair gets: the same host number N in both internal prefixes."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from xenpair.errors import Failed


def host_number(ip: IPv4Address, prefix: IPv4Network) -> int:
    return int(ip) - int(prefix.network_address)


def address(prefix: IPv4Network, n: int) -> IPv4Address:
    return prefix.network_address + n


def allocate(hosting: IPv4Network, backup: IPv4Network, used: set[int]) -> int:
    """Next N is (highest N in use) + 1; past the end of the smaller prefix, the lowest free N.

    N runs from 1 to the last host number of the smaller prefix: never the network
    address (.0) nor the broadcast address (.255 in a /24).
    """
    last = min(hosting.num_addresses, backup.num_addresses) - 2
    nxt = max(used, default=0) + 1
    if nxt <= last:
        return max(nxt, 1)
    for n in range(1, last + 1):
        if n not in used:
            return n
    raise Failed(f"no free address left: all {last} host numbers of {hosting} / {backup} are in use",
                 hint="remove pairs that are gone from the registry, or configure larger prefixes")
