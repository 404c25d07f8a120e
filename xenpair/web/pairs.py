"""The pairs as the pages show them: ownership from the web database, everything else (state,
package, addresses, host key fingerprints, start and ready times) from the registry and its
machine state files — the CLI's `list`/`show` data (core.query), read fresh on every request."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from xenpair.web.models import Customer, Job, Pair

_READ: dict = {}


def _site():
    from xenpair.core.site import Site

    return Site(settings.CONFIG, settings.CONFIG_PATH)


def _registry():
    """list_pairs(), read again only when one of the four files changed: every request would
    otherwise parse and check the whole registry (40 ms with 1,000 pairs; docs/performance.md).
    xenpair writes them by renaming a new file into place (a new inode) — the stamp sees it."""
    from xenpair.adapters import machine_state
    from xenpair.core.query import list_pairs

    site = _site()
    csvs = [Path(site.config.registry.hosting), Path(site.config.registry.backup)]
    stamp = tuple(_stamp(f) for f in csvs + [machine_state.path_for(c) for c in csvs])
    if _READ.get("stamp") != stamp:
        _READ.update(stamp=stamp, value=list_pairs(site))
    return _READ["value"]


def _stamp(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def views(owned: dict[str, str]) -> list[dict]:
    """One dict per pair in OWNED (name -> its customer's user name), in name order; a pair
    ordered but not (yet or any more) in the registry shows as such."""
    from xenpair.core.query import pair_view

    registered, machines = _registry()
    by_name = {p.name: p for p in registered if p.name in owned}
    busy = dict(Job.objects.filter(name__in=list(owned), state__in=("queued", "running"))
                .values_list("name", "state"))
    out = []
    for name in sorted(owned):
        pair = by_name.get(name)
        view = pair_view(pair, machines) if pair is not None else {
            "name": name, "state": "ordered", "readiness": None, "tier": None, "hosting": None, "backup": None}
        view["customer"] = owned[name]
        view["busy"] = busy.get(name)
        out.append(view)
    return out


def _owners(pairs) -> dict[str, str]:
    return dict(pairs.values_list("name", "customer__user__username"))


def for_customer(customer: Customer) -> list[dict]:
    return views(_owners(customer.pairs))


def every() -> list[dict]:
    return views(_owners(Pair.objects))


def one(customer: Customer | None, name: str) -> dict | None:
    """CUSTOMER's pair NAME (None: an operator, any pair); None when it is not theirs."""
    owned = Pair.objects.filter(name=name)
    if customer is not None:
        owned = owned.filter(customer=customer)
    found = _owners(owned)
    return views(found)[0] if found else None


def packages(customer: Customer) -> list[tuple[str, str]]:
    """(name, what it gives) for each package tier in CUSTOMER's allowance (empty allowance: all)."""
    tiers = _site().tiers
    out = []
    for name, tier in tiers.items():
        if customer.packages and name not in customer.packages:
            continue
        h, b = tier.hosting, tier.backup
        out.append((name, f"{h.ram_mb / 1024:g} GB RAM, {h.vcpus} vCPU, {h.disk_gb} GB disk; "
                          f"backup {b.disk_gb} GB"))
    return out
