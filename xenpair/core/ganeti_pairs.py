"""`xenpair create` and `repair` on `backend: ganeti`: both machines as Ganeti instances, in
their node groups, with the same address number in both networks.

Ganeti's networks own the addresses and have no "same offset in two networks": the plan reads
both maps, takes the lowest number free in both, and submits both creates with explicit IPs. If
either is refused because another create took its address meanwhile (Ganeti reserves addresses
atomically), the hosting network decides whose the number is and the loser tries the next one —
bounded, each attempt in the log. A create that fails for another reason leaves the pair
`failed` with the half that was made; `repair` creates the missing half at the pair's addresses.
The CSV registry is written afterwards as the record `list`, `show`, `wait` and `repair` read
(and the old tooling); it is never consulted for allocation here.
"""

from __future__ import annotations

import random
import time

from xenpair.config import resolve_tier
from xenpair.core.build import KINDS, NoProgress, Progress
from xenpair.core.ganeti_build import GanetiPairResult, Maker, check_networks
from xenpair.core.plan import Plan
from xenpair.core.ready import add_wait_step
from xenpair.core.site import Site
from xenpair.core.summary_mail import add_mail_step
from xenpair.core.validate import check_external_ip, check_name
from xenpair.errors import AlreadyExists, Failed

ATTEMPTS = 10
RECLAIM_S = 60          # how long the owner of a number waits for a racer to give its backup address back


def plan_create(site: Site, tier_arg: str, name: str, external_ip: str | None, progress: Progress | None = None,
                authorized_keys: tuple[str, ...] = (), start: bool = False, mail: bool = True,
                wait: float | None = None) -> Plan:
    from xenpair.core import ganeti

    cfg, g = site.config, site.config.ganeti
    progress = progress or NoProgress()
    check_name(name)
    tier_name = resolve_tier(site.tiers, tier_arg)
    tier = site.tiers[tier_name]
    fqdns = {kind: f"{name}.{getattr(cfg, kind).domain}" for kind in KINDS}
    snap = site.registry.read()
    if snap.find(name) is not None:
        raise AlreadyExists(f"a pair named {name!r} is in the registry already", where=str(cfg.registry.hosting),
                            hint=f"choose another name; an incomplete pair is finished with 'xenpair repair {name}'")
    ext = str(check_external_ip(external_ip, cfg, snap.external_ips())) if external_ip else None
    # -- check the world (nothing is changed before the plan is applied)
    with ganeti.rapi(site) as client:
        existing = {i["name"] for i in client.instances()}
        for fqdn in fqdns.values():
            if fqdn in existing:
                raise AlreadyExists(f"the cluster has an instance {fqdn} already", where=g.rapi,
                                    hint=f"choose another name, or remove it: xenpair destroy {name}")
        check_networks(site, client)
    plan = Plan(f"create pair {name} on the Ganeti cluster", {
        "name": name, "tier": tier_name, "backend": "ganeti", "cluster": g.rapi,
        "machines": {kind: {"fqdn": fqdns[kind], "group": getattr(g, kind).group,
                            "network": getattr(g, kind).network, "memory_mb": getattr(tier, kind).ram_mb,
                            "vcpus": getattr(tier, kind).vcpus, "disk_gb": getattr(tier, kind).disk_gb,
                            **({"external_ip": ext, "link": cfg.external.bridge} if ext and kind == "hosting"
                               else {})}
                     for kind in KINDS}},
        result=GanetiPairResult("create", name, tier_name))
    result: GanetiPairResult = plan.result
    maker = Maker(site, None, result, tier, progress, authorized_keys, start)

    def attempt_all() -> None:
        client = maker.client
        tried: set[int] = set()
        for attempt in range(1, ATTEMPTS + 1):
            nets = {x["name"]: x for x in client.networks()}
            free = [n for n in ganeti.free_in_both(nets[g.hosting.network], nets[g.backup.network]) if n not in tried]
            if not free:
                raise Failed(f"no address number is free in both {g.hosting.network} and {g.backup.network}",
                             where=g.rapi, hint="free addresses in both networks, or give the groups larger ones")
            n = free[0]
            tried.add(n)
            ips = {kind: str(getattr(cfg, kind).prefix.network_address + n) for kind in KINDS}
            progress.note("hosting", f"attempt {attempt}: address number {n} ({ips['hosting']} / {ips['backup']})")
            began = time.monotonic()
            result.n = n
            for kind in KINDS:
                maker.submit(kind, fqdns[kind], ips[kind], ext if kind == "hosting" else None)
            taken = {kind: maker.follow(kind, began) for kind in KINDS}
            # Two creates racing for n can each win one half. The hosting network decides whose n
            # it is: the winner of the hosting address tries its backup address again while the
            # other gives its half back (a few seconds); the loser moves on.
            deadline = time.monotonic() + RECLAIM_S
            while result.machines["hosting"].ok and taken["backup"] and time.monotonic() < deadline:
                time.sleep(random.uniform(0.5, 1.5))
                progress.note("backup", f"address {ips['backup']} is held by another create; asking again")
                maker.submit("backup", fqdns["backup"], ips["backup"])
                taken["backup"] = maker.follow("backup", began)
            if all(m.ok for m in result.machines.values()):
                result.attempts.append(f"{n}: created")
                return
            if not any(taken.values()):
                # another failure (no room, the OS definition failed): the pair stays failed with the
                # half that was made; repair creates the other at the same addresses
                result.attempts.append(f"{n}: failed")
                return
            result.attempts.append(f"{n}: taken by another create")
            for kind, m in result.machines.items():             # give back the half that was made
                if m.ok:
                    progress.note(kind, f"number {n} is taken: removing {m.fqdn}")
                    client.wait(client.remove_instance(m.fqdn))
            result.machines.clear()
            result.started.clear()
            result.started_at.clear()
            time.sleep(random.uniform(0, 1))                    # out of step with the other racers
        result.n = None
        raise Failed(f"{ATTEMPTS} address numbers were taken while creating {name} ({', '.join(result.attempts)})",
                     where=g.rapi, hint="many creates at once: run it again")


    plan.add(f"take the lowest address number free in both {g.hosting.network} and {g.backup.network}; create "
             f"{fqdns['hosting']} in group {g.hosting.group} and {fqdns['backup']} in group {g.backup.group} "
             f"(Ganeti jobs{', started when installed' if start else ''}; at most {ATTEMPTS} numbers if others "
             "take them meanwhile); record both in the registry (created or failed)",
             {"rapi": f"POST {g.rapi}/2/instances (2 jobs)",
              "registry": {"hosting": str(cfg.registry.hosting), "backup": str(cfg.registry.backup)}},
             lambda: maker.run(attempt_all))
    add_after(plan, site, fqdns["hosting"], progress, mail, start, wait, name)
    return plan


def add_after(plan: Plan, site: Site, hosting_fqdn: str, progress: Progress, mail: bool, start: bool,
               wait: float | None, name: str) -> None:
    if mail:
        add_mail_step(plan, site, hosting_fqdn)
    if start and wait is not None:
        add_wait_step(plan, site, None, wait, progress, name=name)


