"""`xenpair repair` and `create --overwrite` on `backend: ganeti`: the machines that are missing
(repair) or to be built again (rebuild) are removed from the cluster if there, and created
again at the pair's addresses."""

from __future__ import annotations

import time

from xenpair.core.build import KINDS, NoProgress, Progress
from xenpair.core.ganeti_build import GanetiPairResult, Maker, Named, check_networks, why
from xenpair.core.ganeti_pairs import add_after
from xenpair.core.plan import Plan
from xenpair.core.site import Site
from xenpair.errors import BadInput, Failed


def plan_repair(site: Site, pair, progress: Progress | None = None, mail: bool = True) -> Plan | None:
    """Create the machines of PAIR that are not recorded as created, at the pair's addresses; an
    instance of that name left on the cluster (a failed or interrupted create) is removed first —
    the registry reserved it for this pair."""
    cfg = site.config
    todo = [k for k in KINDS if getattr(pair, k) is None or getattr(pair, k).state not in ("created", "destroyed")]
    if not todo:
        return None
    if pair.tier not in site.tiers:
        raise BadInput(f"the pair's package {pair.tier!r} is no longer in the packages file",
                       hint=f"add it back to {cfg.packages_file or 'packages.yaml'} to repair the pair")
    ext = (pair.hosting.external_ip or None) if pair.hosting else None
    kept = [k for k in KINDS if k not in todo]
    plan = Plan(f"repair pair {pair.name} on the Ganeti cluster", {},
                result=GanetiPairResult("repair", pair.name, pair.tier, pair.n, kept=kept))
    _remake(plan, site, pair, todo, pair.tier, ext, (), False, progress or NoProgress(), "left by an earlier create")
    add_after(plan, site, _fqdn(site, pair, "hosting"), progress or NoProgress(), mail, False, None, pair.name)
    return plan


def plan_rebuild(site: Site, pair, tier_name: str, kinds: list[str], external_ip: str | None, progress: Progress,
                 stop: bool, start: bool, mail: bool, wait: float | None, authorized_keys: tuple[str, ...]) -> Plan:
    """`create --overwrite` on a cluster: each machine of KINDS removed and created again at its
    address (new disk, new host keys, the package TIER_NAME). Not a RAPI reinstall: Ganeti 3.0's
    reinstall takes no secret OS parameters, and host keys must not go into its configuration."""
    from xenpair.core import ganeti

    with ganeti.rapi(site) as client:
        info = {i["name"]: i for i in client.instances()}
    up = [k for k in kinds if info.get(getattr(pair, k).name, {}).get("oper_state")]
    if up and not stop:
        raise BadInput(f"refusing: {', '.join(getattr(pair, k).name for k in up)} is running",
                       hint="shut it down first (xenpair stop), or pass --stop")
    plan = Plan(f"rebuild pair {pair.name} on the Ganeti cluster", {"backups_lost": "backup" in kinds},
                result=GanetiPairResult("rebuild", pair.name, tier_name, pair.n,
                                        kept=[k for k in KINDS if k not in kinds]))

    def update_rows() -> None:
        with site.registry.locked() as locked:
            p = locked.find(pair.name)
            for kind in kinds:
                locked.mark(getattr(p, kind), package=tier_name,
                            **({"external_ip": external_ip or ""} if kind == "hosting" else {}))

    plan.add(f"update the registry rows of {' and '.join(kinds)} (package {tier_name}"
             + (f", external IP {external_ip}" if external_ip else "") + ")", {"rows": kinds}, update_rows)
    _remake(plan, site, pair, kinds, tier_name, external_ip, authorized_keys, start, progress,
            "to be built again" + (" (it is shut down first)" if up else ""))
    add_after(plan, site, _fqdn(site, pair, "hosting"), progress, mail, start, wait, pair.name)
    return plan


def _fqdn(site: Site, pair, kind: str) -> str:
    row = getattr(pair, kind)
    return row.name if row else f"{pair.name}.{getattr(site.config, kind).domain}"


def _remake(plan: Plan, site: Site, pair, kinds: list[str], tier_name: str, external_ip: str | None,
            authorized_keys: tuple[str, ...], start: bool, progress: Progress, why_there: str) -> None:
    """Steps of repair and rebuild: remove the instances of KINDS that are on the cluster, forget
    their keys, create them again at the pair's addresses, record them."""
    from xenpair.core import ganeti
    from xenpair.core.ready import add_forget_keys_steps

    cfg, g = site.config, site.config.ganeti
    with ganeti.rapi(site) as client:
        check_networks(site, client)
        present = {i["name"] for i in client.instances()}
    want = {kind: Named(_fqdn(site, pair, kind), str(getattr(cfg, kind).prefix.network_address + pair.n),
                        external_ip if kind == "hosting" else None) for kind in kinds}
    result: GanetiPairResult = plan.result
    plan.summary.update({"name": pair.name, "tier": tier_name, "n": pair.n, "backend": "ganeti", "kept": result.kept,
                         "machines": {k: {"fqdn": m.fqdn, "ip": m.ip, "external_ip": m.external_ip,
                                          "group": getattr(g, k).group, "on the cluster": m.fqdn in present}
                                      for k, m in want.items()}})
    maker = Maker(site, None, result, site.tiers[tier_name], progress, authorized_keys, start)

    def remove(kind: str):
        def run() -> None:
            fqdn = want[kind].fqdn
            progress.note(kind, f"removing {fqdn} (waits for a job of it that still runs)")
            with ganeti.rapi(site) as client:
                done = client.wait(client.remove_instance(fqdn))
            if done["status"] != "success":
                raise Failed(f"Ganeti did not remove {fqdn}: {why(done)}", where=g.rapi,
                             hint=f"gnt-instance remove {fqdn} on the master, then run it again")
        return run

    def create() -> None:
        began = time.monotonic()
        for kind, m in want.items():
            maker.submit(kind, m.fqdn, m.ip, m.external_ip)
        for kind in want:
            if maker.follow(kind, began):
                m = result.machines[kind]
                m.problem = (f"its address {m.ip} is taken in {getattr(g, kind).network} by another instance "
                             f"({m.problem})")

    for kind, m in want.items():
        if m.fqdn in present:
            plan.add(f"remove the instance {m.fqdn}, {why_there}", {"rapi": f"DELETE {g.rapi}/2/instances/{m.fqdn}"},
                     remove(kind))
    add_forget_keys_steps(plan, site, want)
    plan.add(f"create {' and '.join(m.fqdn for m in want.values())} at the pair's addresses"
             + (", started when installed" if start else "")
             + (f"; keep the {' and '.join(result.kept)} machine" if result.kept else ""),
             {"rapi": f"POST {g.rapi}/2/instances ({len(want)} job(s))"}, lambda: maker.run(create))
