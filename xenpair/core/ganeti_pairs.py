"""`xenpair create` and `destroy` on `backend: ganeti`: both machines as Ganeti instances, in
their node groups, with the same address number in both networks.

Ganeti's networks own the addresses and have no "same offset in two networks": the plan reads
both maps, takes the lowest number free in both, and submits both creates with explicit IPs. If
either is refused because another create took its address meanwhile (Ganeti reserves addresses
atomically), the half that was made is removed and the next common number tried — bounded, each
attempt in the log. The CSV registry is written afterwards as a record for the old tooling; it is
never consulted for allocation here.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from xenpair.config import resolve_tier
from xenpair.core.build import KINDS, NoProgress, Progress
from xenpair.core.plan import Plan
from xenpair.core.site import Site
from xenpair.core.validate import check_name
from xenpair.errors import AlreadyExists, BadInput, Failed

ATTEMPTS = 10
RECLAIM_S = 60          # how long the owner of a number waits for a racer to give its backup address back
TAKEN = ("resource_not_unique", "is already in use", "already reserved", "not available")


@dataclass
class GanetiMachine:
    fqdn: str
    ip: str = ""
    node: str = ""
    job: int | None = None
    ok: bool = False
    problem: str | None = None
    elapsed_s: float = 0.0
    fingerprints: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"fqdn": self.fqdn, "ok": self.ok, "host": self.node or "-", "elapsed_s": round(self.elapsed_s, 1),
                "problem": self.problem, "output_tail": [], "log": f"gnt-job info {self.job}",
                "cfg": f"Ganeti instance {self.fqdn}", "roles": [],
                "summary": {"hostname": self.fqdn, "ips": [self.ip] if self.ip else [],
                            "ssh_fingerprints": self.fingerprints, "root_password": None}}


@dataclass
class GanetiPairResult:
    name: str
    tier: str
    n: int | None = None
    attempts: list[str] = field(default_factory=list)
    machines: dict[str, GanetiMachine] = field(default_factory=dict)
    stopped_at: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.machines) and all(m.ok for m in self.machines.values()) and self.stopped_at is None

    def must_report(self) -> bool:      # a machine was made: the result says so, whatever failed after
        return any(m.job is not None for m in self.machines.values())

    def to_dict(self) -> dict:
        return {"action": "create", "backend": "ganeti", "name": self.name, "tier": self.tier, "n": self.n,
                "state": "created" if self.ok else "failed", "ok": self.ok, "kept": [], "attempts": self.attempts,
                "next": None if self.ok else f"xenpair repair {self.name}", "stopped_at": self.stopped_at,
                "ready": {}, **{k: m.to_dict() for k, m in self.machines.items()}}


def plan_create(site: Site, tier_arg: str, name: str, external_ip: str | None, progress: Progress | None = None,
                authorized_keys: tuple[str, ...] = ()) -> Plan:
    from xenpair.core import ganeti, ganeti_os

    cfg, g = site.config, site.config.ganeti
    progress = progress or NoProgress()
    check_name(name)
    if external_ip:
        raise BadInput("external IPs on backend: ganeti are not there yet", hint="create the pair without one")
    tier_name = resolve_tier(site.tiers, tier_arg)
    tier = site.tiers[tier_name]
    fqdns = {kind: f"{name}.{getattr(cfg, kind).domain}" for kind in KINDS}
    client = ganeti.rapi(site)
    # -- check the world (nothing is changed before the plan is applied)
    existing = {i["name"] for i in client.instances()}
    for fqdn in fqdns.values():
        if fqdn in existing:
            raise AlreadyExists(f"the cluster has an instance {fqdn} already", where=g.rapi,
                                hint=f"choose another name, or remove it: xenpair destroy {name}")
    nets = {x["name"]: x for x in client.networks()}
    for kind in KINDS:
        want = getattr(g, kind)
        net = nets.get(want.network)
        if net is None:
            raise BadInput(f"the cluster has no network {want.network}", where=g.rapi, hint="run 'xenpair check'")
        if IPv4Network(net["network"]) != getattr(cfg, kind).prefix:
            raise BadInput(f"{kind}.prefix {getattr(cfg, kind).prefix} is not the Ganeti network {want.network} "
                           f"({net['network']})", hint=f"set {kind}.prefix to {net['network']}: the registry "
                                                       "record uses it")
    plan = Plan(f"create pair {name} on the Ganeti cluster", {
        "name": name, "tier": tier_name, "backend": "ganeti", "cluster": g.rapi,
        "machines": {kind: {"fqdn": fqdns[kind], "group": getattr(g, kind).group,
                            "network": getattr(g, kind).network, "memory_mb": getattr(tier, kind).ram_mb,
                            "vcpus": getattr(tier, kind).vcpus, "disk_gb": getattr(tier, kind).disk_gb}
                     for kind in KINDS}},
        result=GanetiPairResult(name, tier_name))
    result: GanetiPairResult = plan.result

    def body(kind: str, ip: str) -> tuple[dict, list[dict]]:
        size = getattr(tier, kind)
        params, secret, prints = ganeti_os.parameters(cfg, kind, fqdns[kind], g.image,
                                                      authorized_keys=authorized_keys if kind == "hosting" else ())
        b = {"__version__": 1, "mode": "create", "name": fqdns[kind], "disk_template": g.disk_template,
             "disks": [{"size": size.disk_gb * 1024}], "nics": [{"ip": ip, "network": getattr(g, kind).network}],
             "os": g.os, "osparams": params, "osparams_secret": secret, "group_name": getattr(g, kind).group,
             "beparams": {"maxmem": size.ram_mb, "minmem": size.ram_mb, "vcpus": size.vcpus},
             "name_check": False, "ip_check": False, "start": False, "tags": [f"xenpair:{name}"]}
        if g.iallocator:
            b["iallocator"] = g.iallocator
        return b, prints

    def submit(kind: str, ip: str) -> None:
        b, prints = body(kind, ip)
        m = result.machines[kind] = GanetiMachine(fqdns[kind], ip, fingerprints=prints)
        m.job = client.create_instance(b)
        progress.note(kind, f"Ganeti job {m.job}: create {fqdns[kind]} ({ip}) in group {getattr(g, kind).group}")

    def follow(kind: str, started: float) -> bool:
        """Wait for KIND's job; True when it was refused because another create has its address."""
        m = result.machines[kind]
        done = client.wait(m.job, lambda line: progress.note(kind, line))
        m.elapsed_s = time.monotonic() - started
        m.ok = done["status"] == "success"
        if m.ok:
            m.node = _primary(done)
            progress.note(kind, f"created on {m.node} in {m.elapsed_s:.1f} s")
            return False
        m.problem = _why(done)
        progress.note(kind, f"FAILED: {m.problem}")
        return any(t in m.problem for t in TAKEN)

    def create() -> None:
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
            started = time.monotonic()
            for kind in KINDS:
                submit(kind, ips[kind])
            taken = {kind: follow(kind, started) for kind in KINDS}
            # Two creates racing for n can each win one half. The hosting network decides whose n
            # it is: the winner of the hosting address tries its backup address again while the
            # other gives its half back (a few seconds); the loser moves on.
            deadline = time.monotonic() + RECLAIM_S
            while result.machines["hosting"].ok and taken["backup"] and time.monotonic() < deadline:
                time.sleep(random.uniform(0.5, 1.5))
                progress.note("backup", f"address {ips['backup']} is held by another create; asking again")
                submit("backup", ips["backup"])
                taken["backup"] = follow("backup", started)
            if all(m.ok for m in result.machines.values()):
                result.n = n
                result.attempts.append(f"{n}: created")
                return
            failed = not any(taken.values())
            result.attempts.append(f"{n}: failed" if failed else f"{n}: taken by another create")
            problems = "; ".join(f"{k}: {m.problem}" for k, m in result.machines.items() if not m.ok)
            for kind, m in result.machines.items():             # give back the half that was made
                if m.ok:
                    progress.note(kind, f"{'the other machine failed' if failed else f'number {n} is taken'}: "
                                        f"removing {m.fqdn}")
                    client.wait(client.remove_instance(m.fqdn))
            result.machines.clear()
            if failed:
                # until repair works on this backend, a half pair is not left behind (docs/ganeti.md)
                raise Failed(f"the pair {name} was not created: {problems}", where=g.rapi,
                             hint="nothing of it is left on the cluster; see the jobs' logs (gnt-job list)")
            time.sleep(random.uniform(0, 1))                    # out of step with the other racers
        raise Failed(f"{ATTEMPTS} address numbers were taken while creating {name} ({', '.join(result.attempts)})",
                     where=g.rapi, hint="many creates at once: run it again")

    def record() -> None:
        from xenpair.adapters.registry import Row, now

        with site.registry.locked() as locked:
            for kind in KINDS:
                m = result.machines[kind]
                row = Row(kind, IPv4Address(m.ip), m.fqdn, tier_name, created=now(), state="created")
                locked.add(row)
                # the fingerprints `wait` will check: of the keys xenpair made and gave the OS definition
                locked.note_machine(row, host_keys=m.fingerprints, built=now())

    plan.add(f"take the lowest address number free in both {g.hosting.network} and {g.backup.network}; create "
             f"{fqdns['hosting']} in group {g.hosting.group} and {fqdns['backup']} in group {g.backup.group} "
             f"(Ganeti jobs; at most {ATTEMPTS} numbers if others take them meanwhile)",
             {"rapi": f"POST {g.rapi}/2/instances (2 jobs)"}, create)
    plan.add("write both rows into the registry (a record for the old tooling)",
             {"registry": {"hosting": str(cfg.registry.hosting), "backup": str(cfg.registry.backup)}}, record)
    return plan


def _primary(job: dict) -> str:
    """The instance's primary node: an instance create's result is the list of its nodes."""
    result = (job.get("opresult") or [None])[0]
    return result[0] if isinstance(result, list) and result else ""


def _why(job: dict) -> str:
    """The error of a failed job, as Ganeti gives it in opresult."""
    for r in job.get("opresult") or []:
        if isinstance(r, list) and r and r[0] in ("OpPrereqError", "OpExecError"):
            return " ".join(str(x) for x in r[1]) if isinstance(r[1], list) else str(r[1])
        if r:
            return str(r)[:500]
    return job.get("status", "failed")


def plan_destroy(site: Site, pair, kinds: list[str], keep_backup: bool = False) -> Plan:
    """Remove the instances of PAIR's KINDS (core.destroy.doomed_machines) from the cluster (their addresses
    go back to the networks), then its registry rows; KEEP_BACKUP: the backup machine and its
    backups stay, the hosting row is marked destroyed — as on the xen-tools backend."""
    from xenpair.core import ganeti
    from xenpair.core.destroy import DestroyResult, forget_rows

    g, name = site.config.ganeti, pair.name
    client = ganeti.rapi(site)
    present = {i["name"] for i in client.instances()}
    doomed = {k: getattr(pair, k).name for k in kinds}
    plan = Plan(f"destroy pair {name} on the Ganeti cluster", {
        "name": name, "n": pair.n, "kept": ["backup"] if keep_backup else [],
        "deletes": {k: {"host": g.rapi, "fqdn": fqdn, "paths": [f"Ganeti instance {fqdn}" + (
            "" if fqdn in present else " (not on the cluster)")]} for k, fqdn in doomed.items()}},
        result=DestroyResult(name, pair.n, [], ["backup"] if keep_backup else [], freed=not keep_backup))

    def remove(kind: str):
        def run() -> None:
            fqdn = doomed[kind]
            if fqdn in present:
                done = client.wait(client.remove_instance(fqdn))
                if done["status"] != "success":
                    raise Failed(f"Ganeti did not remove {fqdn}: {_why(done)}", where=g.rapi,
                                 hint="see 'gnt-job info'; the registry still lists the pair")
            plan.result.destroyed.append(kind)
        return run

    def forget() -> None:
        forget_rows(site, name, keep_backup)

    for kind, fqdn in doomed.items():
        plan.add(f"remove Ganeti instance {fqdn} (its address goes back to {getattr(g, kind).network})",
                 {"rapi": f"DELETE {g.rapi}/2/instances/{fqdn}"}, remove(kind))
    plan.add("mark the hosting machine destroyed in the registry (backup kept)" if keep_backup else
             "remove the pair's rows from the registry", {"change": "registry"}, forget)
    return plan
