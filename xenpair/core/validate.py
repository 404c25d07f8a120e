"""Validation of what people type: machine names and external IPs."""

from __future__ import annotations

import re
from ipaddress import AddressValueError, IPv4Address, IPv4Network

from xenpair.errors import BadInput

NAME_RULE = ("a name is one DNS label: lowercase letters a-z, digits 0-9 and inner hyphens, "
             "1-63 characters, e.g. customer42 (the domain is added from the config)")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")


def name_problem(name: str) -> str | None:
    """Why NAME is not a valid machine name, or None."""
    if _LABEL.match(name):
        return None
    if name == "":
        return "the name is empty"
    if len(name) > 63:
        return f"the name is {len(name)} characters long (at most 63)"
    if "." in name:
        return "the name contains '.': give the short name only"
    if name.startswith("-") or name.endswith("-"):
        return "the name starts or ends with '-'"
    if any(c.isupper() for c in name):
        return "the name contains uppercase letters"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c == "-"))})
    return "the name contains " + ", ".join(repr(c) for c in bad)


def check_name(name: str) -> str:
    problem = name_problem(name)
    if problem:
        raise BadInput(f"invalid machine name {name!r}: {problem}", hint=NAME_RULE)
    return name


def external_ip_problem(text: str, internal: list[IPv4Network],
                        used_by: dict[IPv4Address, str]) -> str | None:
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
    for net in internal:
        if ip in net:
            return f"{ip} is inside the internal prefix {net}"
    if ip in used_by:
        return f"{ip} is already the external IP of {used_by[ip]}"
    return None


def check_external_ip(text: str, internal: list[IPv4Network],
                      used_by: dict[IPv4Address, str]) -> IPv4Address:
    problem = external_ip_problem(text, internal, used_by)
    if problem:
        raise BadInput(f"invalid external IP: {problem}",
                       hint="give a public IPv4 address routed to this dom0, or leave it out")
    return IPv4Address(text)
