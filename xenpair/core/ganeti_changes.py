"""Changes to an existing pair on `backend: ganeti`: destroy, start/stop, the external IP (the
hosting instance's second NIC), each a Ganeti job submitted over RAPI and followed to its end."""

from __future__ import annotations

import json

from xenpair.core.ganeti_build import Named, why
from xenpair.core.plan import Plan
from xenpair.core.site import Site
from xenpair.errors import Failed

NIC_NOTE = ("Ganeti changes the instance's NICs now and the running guest at its next start; the guest's own "
            "network config is not changed: edit its /etc/network/interfaces (eth1) or rebuild the hosting "
            "machine")


def plan_destroy(site: Site, pair, kinds: list[str], keep_backup: bool = False) -> Plan:
    """Remove the instances of PAIR's KINDS (core.destroy.doomed_machines) from the cluster (their addresses
    go back to the networks), their lines in known_hosts, then its registry rows; KEEP_BACKUP: the
    backup machine and its backups stay, the hosting row is marked destroyed — as on the xen-tools backend."""
    from xenpair.core import ganeti
    from xenpair.core.destroy import DestroyResult, forget_rows
    from xenpair.core.ready import add_forget_keys_steps

    g, name = site.config.ganeti, pair.name
    client = ganeti.rapi(site)
    try:
        present = {i["name"] for i in client.instances()}
    finally:
        client.close()
    doomed = {k: getattr(pair, k) for k in kinds}
    plan = Plan(f"destroy pair {name} on the Ganeti cluster", {
        "name": name, "n": pair.n, "kept": ["backup"] if keep_backup else [],
        "deletes": {k: {"host": g.rapi, "fqdn": row.name, "paths": [f"Ganeti instance {row.name}" + (
            "" if row.name in present else " (not on the cluster)")]} for k, row in doomed.items()}},
        result=DestroyResult(name, pair.n, [], ["backup"] if keep_backup else [], freed=not keep_backup))

    def remove(kind: str):
        def run() -> None:
            fqdn = doomed[kind].name
            if fqdn in present:
                with ganeti.rapi(site) as client:
                    done = client.wait(client.remove_instance(fqdn))
                if done["status"] != "success":
                    raise Failed(f"Ganeti did not remove {fqdn}: {why(done)}", where=g.rapi,
                                 hint="see 'gnt-job info'; the registry still lists the pair")
            plan.result.destroyed.append(kind)
        return run

    for kind, row in doomed.items():
        plan.add(f"remove Ganeti instance {row.name} (its address goes back to {getattr(g, kind).network})",
                 {"rapi": f"DELETE {g.rapi}/2/instances/{row.name}"}, remove(kind))
    add_forget_keys_steps(plan, site, {k: Named(row.name, row.address) for k, row in doomed.items()})
    plan.add("mark the hosting machine destroyed in the registry (backup kept)" if keep_backup else
             "remove the pair's rows from the registry", {"change": "registry"},
             lambda: forget_rows(site, name, keep_backup))
    return plan


def power(site: Site, pair, action: str, kinds) -> dict[str, str | None]:
    """Start or shut down the instances of KINDS at once (one job each); kind -> problem or None."""
    from xenpair.core import ganeti

    g = site.config.ganeti
    rows = {k: getattr(pair, k) for k in kinds if getattr(pair, k) is not None
            and getattr(pair, k).state != "destroyed"}
    out: dict[str, str | None] = {}
    with ganeti.rapi(site) as client:
        jobs = {}
        for kind, row in rows.items():
            try:
                jobs[kind] = client.startup(row.name) if action == "start" else client.shutdown(row.name)
            except Failed as e:
                out[kind] = e.what
        for kind, job in jobs.items():
            done = client.wait(job)
            out[kind] = None if done["status"] == "success" else \
                f"Ganeti job {job} ({action} {rows[kind].name}): {why(done)} (gnt-job info {job} on {g.rapi})"
    return out


def plan_ip(site: Site, pair, new_ip: str | None) -> Plan:
    """`ip set` / `ip remove` on a cluster: the hosting instance's second NIC (added, changed or
    removed by a modify job), then the registry row."""
    from xenpair.core import ganeti
    from xenpair.core.lifecycle import IpResult

    cfg, g = site.config, site.config.ganeti
    fqdn, old = pair.hosting.name, pair.hosting.external_ip or None
    with ganeti.rapi(site) as client:
        info = client.instance(fqdn)
    ips = info.get("nic.ips") or []
    if len(ips) > 1 and ips[1] and ips[1] != old:
        raise Failed(f"the second NIC of {fqdn} has {ips[1]}, the registry says {old or 'none'}", where=g.rapi,
                     hint="make them agree by hand (gnt-instance modify, or the registry row) first")
    if new_ip is None:
        change = [["remove", 1, {}]] if len(ips) > 1 else []
    elif len(ips) > 1:
        change = [["modify", 1, {"ip": new_ip}]] if new_ip != old else []
    else:
        change = [["add", -1, {"ip": new_ip, "mode": "bridged", "link": cfg.external.bridge}]]
    text = json.dumps(change)
    plan = Plan(f"{'set' if new_ip else 'remove'} the external IP of {pair.name}",
                {"name": pair.name, "tier": pair.tier, "n": pair.n, "old": old, "new": new_ip, "note": NIC_NOTE})

    def modify() -> None:
        if not change:
            return
        with ganeti.rapi(site) as client:
            done = client.wait(client.modify(fqdn, {"nics": change}))
        if done["status"] != "success":
            raise Failed(f"Ganeti did not change the NICs of {fqdn}: {why(done)}", where=g.rapi,
                         hint="see 'gnt-job info'; the registry is unchanged")

    def write_row() -> None:
        with site.registry.locked() as locked:
            locked.mark(locked.find(pair.name).hosting, external_ip=new_ip or "")
        plan.result = IpResult(pair.name, old, new_ip, f"Ganeti instance {fqdn}", bool(change), text, NIC_NOTE)

    plan.add(f"change the NICs of {fqdn}: {text}" if change else f"{fqdn}: its NICs are already as wanted",
             {"rapi": f"PUT {g.rapi}/2/instances/{fqdn}/modify", "nics": change}, modify)
    plan.add(f"record external IP {new_ip or '(none)'} in the registry", {"row": "hosting"}, write_row)
    return plan

