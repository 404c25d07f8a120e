"""Which N a new pair gets: the same host number N in both internal prefixes."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from xenpair.errors import Failed


def host_number(ip: IPv4Address, prefix: IPv4Network) -> int:
    return int(ip) - int(prefix.network_address)


def address(prefix: IPv4Network, n: int) -> IPv4Address:
    return prefix.network_address + n


def allocate(hosting: IPv4Network, backup: IPv4Network, used: set[int], reserved: frozenset[int] = frozenset()) -> int:
    """Next N is (highest N of a pair) + 1, skipping RESERVED; past the end of the smaller prefix,
    the lowest N free in both.

    USED: the numbers of the pairs' rows. RESERVED: numbers never handed out that are no pair's
    (the dom0's own address, the gateways): they are skipped, but do not count as the highest N
    (a gateway at .254 would otherwise send every allocation to the lowest free N, and hand a
    destroyed pair's address out again at once). N runs from 1 to the last host number of the
    smaller prefix: never the network address (.0) nor the broadcast address (.255 in a /24).
    """
    last = min(hosting.num_addresses, backup.num_addresses) - 2
    taken = used | reserved
    nxt = max(used - reserved, default=0) + 1
    while nxt in taken:
        nxt += 1
    if nxt <= last:
        return nxt
    for n in range(1, last + 1):
        if n not in taken:
            return n
    raise Failed(f"no free address left: all {last} host numbers of {hosting} / {backup} are in use or reserved",
                 hint="remove pairs that are gone from the registry, or configure larger prefixes")
