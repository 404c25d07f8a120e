"""Read-only views of the registry: list and show."""

from __future__ import annotations

from xenpair.adapters.registry import Pair
from xenpair.core.site import Site
from xenpair.errors import BadInput

NO_STATE = {"host_keys": [], "built": None, "started": None, "ready": None, "ready_after_s": None, "problem": None}


def pair_view(pair: Pair, machines: dict[str, dict] | None = None) -> dict:
    """MACHINES: FQDN -> its machine state (host keys, start, ready), as from machine_states()."""
    h, b = pair.hosting, pair.backup
    machines = machines or {}

    def state(row) -> dict:
        return {**NO_STATE, **machines.get(row.name, {})}

    return {
        "name": pair.name,
        "n": pair.n,
        "tier": pair.tier,
        "state": pair.state,
        "readiness": readiness(pair, machines),
        "hosting": {"fqdn": h.name, "ip": h.address, "external_ip": h.external_ip or None,
                    "created": h.created, "state": h.state, **state(h)} if h else None,
        "backup": {"fqdn": b.name, "ip": b.address, "created": b.created,
                   "state": b.state, **state(b)} if b else None,
    }


def readiness(pair: Pair, machines: dict[str, dict]) -> str | None:
    """ready (every machine not destroyed), not ready (a wait failed), started (not yet waited
    for) or None (nothing recorded since the build)."""
    rows = [r for r in (pair.hosting, pair.backup) if r is not None and r.state != "destroyed"]
    entries = [machines.get(r.name, {}) for r in rows]
    if any(e.get("problem") for e in entries):
        return "not ready"
    if entries and all(e.get("ready") for e in entries):
        return "ready"
    if any(e.get("started") for e in entries):
        return "started"
    return None


def machine_states(site: Site) -> dict[str, dict]:
    """FQDN -> machine state, both registries' state files (none yet: {})."""
    return {**site.registry.machines("hosting"), **site.registry.machines("backup")}


def list_pairs(site: Site) -> tuple[list[Pair], dict[str, dict]]:
    """The pairs as registry objects (the text table reads them directly, --json uses pair_view)
    and the machines' states."""
    return site.registry.read().pairs(), machine_states(site)


def show_pair(site: Site, name: str) -> tuple[Pair, dict[str, dict]]:
    pair = site.registry.read().find(name)
    if pair is None:
        raise BadInput(f"no pair named {name!r} in the registry",
                       where=f"{site.config.registry.hosting}, {site.config.registry.backup}",
                       hint="'xenpair list' shows the pairs; give the short name (foo, not foo.hosting.example.de)")
    return pair, machine_states(site)
