"""Read-only views of the registry: list and show."""

from __future__ import annotations

from xenpair.adapters.registry import Pair
from xenpair.core.site import Site
from xenpair.errors import BadInput


def pair_view(pair: Pair) -> dict:
    h, b = pair.hosting, pair.backup
    return {
        "name": pair.name,
        "n": pair.n,
        "tier": pair.tier,
        "state": pair.state,
        "hosting": {"fqdn": h.name, "ip": h.address, "external_ip": h.external_ip or None,
                    "created": h.created, "state": h.state} if h else None,
        "backup": {"fqdn": b.name, "ip": b.address, "created": b.created,
                   "state": b.state} if b else None,
    }


def list_pairs(site: Site) -> list[Pair]:
    """The pairs as registry objects: the text table reads them directly, --json uses pair_view."""
    return site.registry.read().pairs()


def show_pair(site: Site, name: str) -> Pair:
    pair = site.registry.read().find(name)
    if pair is None:
        raise BadInput(f"no pair named {name!r} in the registry",
                       where=f"{site.config.registry.hosting}, {site.config.registry.backup}",
                       hint="'xenpair list' shows the pairs; give the short name (foo, not foo.hosting.example.de)")
    return pair
