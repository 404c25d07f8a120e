"""The pairs as the pages show them: ownership from the web database, everything else (state,
package, addresses, host key fingerprints, start and ready times) from the registry and its
machine state files — the CLI's `list`/`show` data (core.query), read fresh on every request."""

from __future__ import annotations

from django.conf import settings

from xenpair.web.models import Customer, Job, Pair


def _site():
    from xenpair.core.site import Site

    return Site(settings.CONFIG, settings.CONFIG_PATH)


def views(owned: dict[str, Pair]) -> list[dict]:
    """One dict per pair in OWNED (name -> Pair), in name order; a pair ordered but not (yet or
    any more) in the registry shows as such."""
    from xenpair.core.query import list_pairs, pair_view

    registered, machines = list_pairs(_site())
    by_name = {p.name: p for p in registered if p.name in owned}
    busy = dict(Job.objects.filter(name__in=list(owned), state__in=("queued", "running"))
                .values_list("name", "state"))
    out = []
    for name in sorted(owned):
        pair = by_name.get(name)
        view = pair_view(pair, machines) if pair is not None else {
            "name": name, "state": "ordered", "readiness": None, "tier": None, "hosting": None, "backup": None}
        view["customer"] = owned[name].customer
        view["busy"] = busy.get(name)
        out.append(view)
    return out


def for_customer(customer: Customer) -> list[dict]:
    return views({p.name: p for p in customer.pairs.select_related("customer__user")})


def one(customer: Customer | None, name: str) -> dict | None:
    """CUSTOMER's pair NAME (None: an operator, any pair); None when it is not theirs."""
    owned = Pair.objects.select_related("customer__user").filter(name=name)
    if customer is not None:
        owned = owned.filter(customer=customer)
    found = {p.name: p for p in owned}
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
