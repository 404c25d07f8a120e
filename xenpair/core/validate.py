"""Validation of what people type: machine names, external IPs, SSH public keys (the CLI and
the web pages use these same functions)."""

from __future__ import annotations

from ipaddress import AddressValueError, IPv4Address, IPv4Network

from xenpair.config import Config
from xenpair.errors import BadInput
from xenpair.names import NAME_RULE, name_problem

__all__ = ["NAME_RULE", "name_problem", "check_name", "check_external_ip", "external_ip_problem",
           "ssh_key_problem", "check_ssh_keys"]

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


# what a customer's key may be: OpenSSH's current types, at a length worth trusting
KEY_TYPES = {"ssh-ed25519": 256, "ssh-rsa": 3072, "ecdsa-sha2-nistp256": 256, "ecdsa-sha2-nistp384": 384,
             "ecdsa-sha2-nistp521": 521, "sk-ssh-ed25519@openssh.com": 256,
             "sk-ecdsa-sha2-nistp256@openssh.com": 256}
MIN_RSA_BITS = 3072


def ssh_key_problem(line: str) -> str | None:
    """Why LINE is not one plain SSH public key ('TYPE BASE64 [comment]': no options, no command)
    to put into a root authorized_keys, or None."""
    import base64
    import binascii

    if any(c in line for c in "\n\r\0"):
        return "a key is one line"
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        return "not 'TYPE BASE64 [comment]'"
    kind, blob = parts[0], parts[1]
    if kind not in KEY_TYPES:
        return (f"{kind[:40]!r} is not a key type (options such as from=, command= are not allowed; types: "
                f"{', '.join(KEY_TYPES)})")
    if len(parts) == 3 and any(c in parts[2] for c in "\"'`$\\;"):
        return "the comment has quotes or shell characters"
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return "the key is not base64"
    if kind.startswith("sk-"):          # security keys: paramiko cannot load them; the blob names its type
        named = raw[4:4 + int.from_bytes(raw[:4], "big")]
        return None if named == kind.encode() else f"the key data is not a {kind} key"
    from paramiko import PKey

    try:
        key = PKey.from_type_string(kind, raw)
    except Exception:                   # paramiko raises several kinds on data that is not a key
        return f"the key data is not a valid {kind} key"
    if kind == "ssh-rsa" and key.get_bits() < MIN_RSA_BITS:
        return f"an RSA key of {key.get_bits()} bits is too short (at least {MIN_RSA_BITS})"
    return None


def check_ssh_keys(text: str, where: str) -> list[str]:
    """The keys of TEXT (one per line; blank lines and # comments skipped), each checked."""
    keys = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        problem = ssh_key_problem(line)
        if problem:
            raise BadInput(f"invalid SSH public key: {problem}", where=f"{where}:{n}",
                           hint="give plain public keys as `ssh-keygen` writes them (*.pub): ed25519, ecdsa, or "
                                f"RSA of {MIN_RSA_BITS}+ bits; no options or commands")
        keys.append(" ".join(line.split()))
    if not keys:
        raise BadInput(f"no SSH public key in {where}", hint="give a *.pub file of ssh-keygen")
    return keys
