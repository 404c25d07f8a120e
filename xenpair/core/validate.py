"""Validation of what people type: machine names and external IPs."""

from __future__ import annotations

from ipaddress import AddressValueError, IPv4Address, IPv4Network

from xenpair.config import Config
from xenpair.errors import BadInput
from xenpair.names import NAME_RULE, name_problem

__all__ = ["NAME_RULE", "name_problem", "check_name", "check_external_ip", "external_ip_problem"]

def check_name(name: str) -> str:
    problem = name_problem(name)
    if problem:
        raise BadInput(f"invalid machine name {name!r}: {problem}", hint=NAME_RULE)
    return name


def external_ip_problem(text: str, config: Config, used_by: dict[IPv4Address, str]) -> str | None:
    """Why TEXT cannot be a hosting machine's external IP, or None."""
    try:
        ip = IPv4Address(text)
    except AddressValueError:
        return f"{text!r} is not an IPv4 address (four numbers 0-255, e.g. 203.0.113.10)"
    for kind, bad in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                      ("multicast", ip.is_multicast), ("link-local", ip.is_link_local),
                      ("reserved", ip.is_reserved)):
        if bad:
            return f"{ip} is {'an' if kind[0] in 'aeiou' else 'a'} {kind} address"
    for net in (config.hosting.prefix, config.backup.prefix):
        if ip in net:
            return f"{ip} is inside the internal prefix {net}"
    net = IPv4Network(f"{ip}/{config.external.netmask}", strict=False)
    if net.prefixlen < 31 and ip in (net.network_address, net.broadcast_address):
        which = "network" if ip == net.network_address else "broadcast"
        return f"{ip} is the {which} address of {net} (external.netmask {config.external.netmask})"
    if config.external.gateway == ip:
        return f"{ip} is the external gateway (external.gateway)"
    if ip in used_by:
        return f"{ip} is already the external IP of {used_by[ip]}"
    return None


def check_external_ip(text: str, config: Config, used_by: dict[IPv4Address, str]) -> IPv4Address:
    problem = external_ip_problem(text, config, used_by)
    if problem:
        raise BadInput(f"invalid external IP: {problem}",
                       hint="give a public IPv4 address routed to this dom0, or leave it out")
    return IPv4Address(text)
