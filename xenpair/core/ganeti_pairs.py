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
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from xenpair.adapters.xen_create_image import Summary
from xenpair.config import resolve_tier
from xenpair.core.build import KINDS, NoProgress, Progress
from xenpair.core.plan import Plan
from xenpair.core.ready import add_wait_step
from xenpair.core.site import Site
from xenpair.core.summary_mail import add_mail_step
from xenpair.core.validate import check_external_ip, check_name
from xenpair.errors import AlreadyExists, BadInput, Failed

ATTEMPTS = 10
RECLAIM_S = 60          # how long the owner of a number waits for a racer to give its backup address back
TAKEN = ("resource_not_unique", "is already in use", "already reserved", "not available")


@dataclass
class Named:
    """What the summary mail and known_hosts need of a machine (core.machines.MachineSpec on xen-tools)."""

    fqdn: str
    ip: str
    external_ip: str | None = None


@dataclass
class GanetiMachine:
    fqdn: str
    ip: str = ""
    external_ip: str | None = None
    node: str = ""
    job: int | None = None
    ok: bool = False
    problem: str | None = None
    elapsed_s: float = 0.0
    fingerprints: list[dict] = field(default_factory=list)
    mac: str = ""

    @property
    def spec(self) -> Named:
        return Named(self.fqdn, self.ip, self.external_ip)

    @property
    def host(self) -> str:
        return self.node or "-"

    @property
    def summary(self) -> Summary | None:
        if not self.ok:
            return None
        return Summary(hostname=self.fqdn, distribution="xenpair golden image", mac=self.mac,
                       ips=[self.ip] + ([self.external_ip] if self.external_ip else []),
                       ssh_fingerprints=self.fingerprints)

    def to_dict(self) -> dict:
        return {"fqdn": self.fqdn, "ip": self.ip, "external_ip": self.external_ip, "ok": self.ok, "host": self.host,
                "elapsed_s": round(self.elapsed_s, 1), "problem": self.problem, "output_tail": [],
                "log": f"gnt-job info {self.job}", "cfg": f"Ganeti instance {self.fqdn}", "roles": [],
                "summary": self.summary.to_dict() if self.summary else None}


@dataclass
class GanetiPairResult:
    """Like core.build.PairResult (the CLI, the mail and the web worker read both)."""

    action: str
    name: str
    tier: str
    n: int | None = None
    attempts: list[str] = field(default_factory=list)
    machines: dict[str, GanetiMachine] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    started: dict[str, str | None] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    ready: dict = field(default_factory=dict)
    mail: dict | None = None
    stopped_at: dict | None = None
    run_log: str | None = None          # the jobs' logs are Ganeti's (gnt-job info)

    @property
    def ok(self) -> bool:
        return (bool(self.machines) and all(m.ok for m in self.machines.values()) and not any(self.started.values())
                and all(r.ok for r in self.ready.values()) and self.stopped_at is None)

    @property
    def state(self) -> str:
        failed = [k for k in KINDS if k in self.machines and not self.machines[k].ok]
        return "created" if not failed else "failed (" + " and ".join(failed) + ")"

    def must_report(self) -> bool:      # a machine was made: the result says so, whatever failed after
        return any(m.job is not None for m in self.machines.values())

    def to_dict(self) -> dict:
        broken = any(not m.ok for m in self.machines.values()) or not self.machines
        return {"action": self.action, "backend": "ganeti", "name": self.name, "tier": self.tier, "n": self.n,
                "state": self.state, "ok": self.ok, "kept": self.kept, "attempts": self.attempts,
                "next": f"xenpair repair {self.name}" if broken else None, "stopped_at": self.stopped_at,
                "started": self.started, "mail": self.mail, "run_log": None,
                "ready": {k: r.to_dict() for k, r in self.ready.items()},
                **{k: m.to_dict() for k, m in self.machines.items()}}


class Maker:
    """Submits instance creates and follows their jobs for one plan; Ctrl-C cancels what has not
    started on the cluster yet."""

    def __init__(self, site: Site, client, result: GanetiPairResult, tier, progress: Progress,
                 authorized_keys: tuple[str, ...], start: bool):
        self.site, self.client, self.result, self.tier = site, client, result, tier
        self.progress, self.keys, self.start = progress, authorized_keys, start

    def body(self, kind: str, fqdn: str, ip: str, external_ip: str | None) -> tuple[dict, list[dict]]:
        from xenpair.core import ganeti_os

        cfg, g = self.site.config, self.site.config.ganeti
        size, side = getattr(self.tier, kind), getattr(g, kind)
        params, secret, prints = ganeti_os.parameters(cfg, kind, fqdn, g.image, external_ip=bool(external_ip),
                                                      authorized_keys=self.keys if kind == "hosting" else ())
        nics = [{"ip": ip, "network": side.network}]
        if external_ip:             # the second NIC: eth1 in the guest (xenpair-external-ip role)
            nics.append({"ip": external_ip, "mode": "bridged", "link": cfg.external.bridge})
        b = {"__version__": 1, "mode": "create", "name": fqdn, "disk_template": g.disk_template,
             "disks": [{"size": size.disk_gb * 1024}], "nics": nics, "os": g.os, "osparams": params,
             "osparams_secret": secret, "group_name": side.group,
             "beparams": {"maxmem": size.ram_mb, "minmem": size.ram_mb, "vcpus": size.vcpus},
             "name_check": False, "ip_check": False, "start": self.start, "tags": [f"xenpair:{self.result.name}"]}
        if g.iallocator:
            b["iallocator"] = g.iallocator
        return b, prints

    def submit(self, kind: str, fqdn: str, ip: str, external_ip: str | None = None) -> None:
        b, prints = self.body(kind, fqdn, ip, external_ip)
        m = self.result.machines[kind] = GanetiMachine(fqdn, ip, external_ip, fingerprints=prints)
        m.job = self.client.create_instance(b)
        self.progress.note(kind, f"Ganeti job {m.job}: create {fqdn} ({ip}) in group "
                                 f"{getattr(self.site.config.ganeti, kind).group}")

    def follow(self, kind: str, began: float) -> bool:
        """Wait for KIND's job; True when it was refused because another create has its address."""
        m = self.result.machines[kind]
        done = self.client.wait(m.job, lambda line: self.progress.note(kind, line))
        m.elapsed_s = time.monotonic() - began
        m.ok = done["status"] == "success"
        if m.ok:
            m.node = _primary(done)
            m.mac = _mac(self.client, m.fqdn)
            if self.start:
                self.result.started[kind] = None
                self.result.started_at[kind] = time.time()
            self.progress.note(kind, f"created on {m.node} in {m.elapsed_s:.1f} s"
                                     + (" and started" if self.start else ""))
            return False
        m.problem = why(done)
        self.progress.note(kind, f"FAILED: {m.problem}")
        return any(t in m.problem for t in TAKEN)

    def cancel_pending(self) -> None:
        """Ctrl-C: cancel the jobs not finished; a running one cannot be (it ends on the cluster)."""
        for kind, m in self.result.machines.items():
            if m.job is None or m.ok:
                continue
            try:
                status = self.client.job(m.job)["status"]
                if status in ("success", "error", "canceled"):
                    continue
                cancelled, message = self.client.cancel(m.job)
            except Failed as e:
                cancelled, message = False, str(e)
            m.problem = "interrupted: " + (f"Ganeti job {m.job} cancelled" if cancelled else
                                           f"Ganeti job {m.job} could not be cancelled ({message}); it ends on "
                                           "the cluster")
            self.progress.note(kind, m.problem)


def _mac(client, fqdn: str) -> str:
    try:
        macs = client.instance(fqdn).get("nic.macs") or []
    except Failed:
        return ""
    return macs[0] if macs else ""


def record(site: Site, result: GanetiPairResult) -> None:
    """Rows (created or failed) for the machines of RESULT, and what `show` and `wait` read: the
    fingerprints of the keys xenpair made, built and started times."""
    from xenpair.adapters.registry import Row, now

    with site.registry.locked() as locked:
        pair = locked.find(result.name)
        for kind, m in result.machines.items():
            row = getattr(pair, kind) if pair else None
            state = "created" if m.ok else "failed"
            if row is None:
                row = Row(kind, IPv4Address(m.ip), m.fqdn, result.tier, created=now(), state=state,
                          external_ip=m.external_ip or "")
                locked.add(row)
            else:
                locked.mark(row, state=state)
            if m.ok:
                locked.note_machine(row, host_keys=m.fingerprints, built=now(),
                                    started=now() if kind in result.started_at else None, ready=None,
                                    ready_after_s=None, problem=None)
            else:
                locked.note_machine(row, problem=m.problem)


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

    def attempt_all(client) -> None:
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

    def create() -> None:
        with ganeti.rapi(site) as maker.client:
            try:
                attempt_all(maker.client)
            except KeyboardInterrupt:
                maker.cancel_pending()
                if result.machines:          # what was submitted is recorded: repair or destroy finish it
                    record(site, result)
                raise
        record(site, result)

    plan.add(f"take the lowest address number free in both {g.hosting.network} and {g.backup.network}; create "
             f"{fqdns['hosting']} in group {g.hosting.group} and {fqdns['backup']} in group {g.backup.group} "
             f"(Ganeti jobs{', started when installed' if start else ''}; at most {ATTEMPTS} numbers if others "
             "take them meanwhile); record both in the registry (created or failed)",
             {"rapi": f"POST {g.rapi}/2/instances (2 jobs)",
              "registry": {"hosting": str(cfg.registry.hosting), "backup": str(cfg.registry.backup)}}, create)
    _add_after(plan, site, fqdns["hosting"], progress, mail, start, wait, name)
    return plan


def _add_after(plan: Plan, site: Site, hosting_fqdn: str, progress: Progress, mail: bool, start: bool,
               wait: float | None, name: str) -> None:
    if mail:
        add_mail_step(plan, site, hosting_fqdn)
    if start and wait is not None:
        add_wait_step(plan, site, None, wait, progress, name=name)


def check_networks(site: Site, client) -> None:
    """Each network exists and is the prefix the registry record uses."""
    cfg, g = site.config, site.config.ganeti
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


def plan_repair(site: Site, pair, progress: Progress | None = None, mail: bool = True) -> Plan | None:
    """Create the machines of PAIR that are not recorded as created, at the pair's addresses; an
    instance of that name left on the cluster (a failed or interrupted create) is removed first —
    the registry reserved it for this pair."""
    from xenpair.core import ganeti

    cfg, g = site.config, site.config.ganeti
    progress = progress or NoProgress()
    todo = [k for k in KINDS if getattr(pair, k) is None or getattr(pair, k).state not in ("created", "destroyed")]
    if not todo:
        return None
    if pair.tier not in site.tiers:
        raise BadInput(f"the pair's package {pair.tier!r} is no longer in the packages file",
                       hint=f"add it back to {cfg.packages_file or 'packages.yaml'} to repair the pair")
    kept = [k for k in KINDS if k not in todo]
    with ganeti.rapi(site) as client:
        check_networks(site, client)
        present = {i["name"] for i in client.instances()}
    want = {}
    for kind in todo:
        row = getattr(pair, kind)
        fqdn = row.name if row else f"{pair.name}.{getattr(cfg, kind).domain}"
        ip = str(getattr(cfg, kind).prefix.network_address + pair.n)
        ext = (pair.hosting.external_ip or None) if kind == "hosting" and pair.hosting else None
        want[kind] = (fqdn, ip, ext)
    plan = Plan(f"repair pair {pair.name} on the Ganeti cluster", {
        "name": pair.name, "tier": pair.tier, "n": pair.n, "backend": "ganeti", "kept": kept,
        "machines": {k: {"fqdn": f, "ip": ip, "external_ip": e, "group": getattr(g, k).group,
                         "leftover": f in present} for k, (f, ip, e) in want.items()}},
        result=GanetiPairResult("repair", pair.name, pair.tier, pair.n, kept=kept))
    result: GanetiPairResult = plan.result
    maker = Maker(site, None, result, site.tiers[pair.tier], progress, (), start=False)

    def remove_leftover(kind: str):
        def run() -> None:
            fqdn = want[kind][0]
            progress.note(kind, f"removing {fqdn}, left by the failed create (waits for its job if it still runs)")
            with ganeti.rapi(site) as client:
                done = client.wait(client.remove_instance(fqdn))
            if done["status"] != "success":
                raise Failed(f"Ganeti did not remove {fqdn}: {why(done)}", where=g.rapi,
                             hint=f"gnt-instance remove {fqdn} on the master, then repair again")
        return run

    def create() -> None:
        with ganeti.rapi(site) as maker.client:
            try:
                began = time.monotonic()
                for kind, (fqdn, ip, ext) in want.items():
                    maker.submit(kind, fqdn, ip, ext)
                for kind in want:
                    if maker.follow(kind, began):
                        m = result.machines[kind]
                        m.problem = (f"its address {m.ip} is taken in {getattr(g, kind).network} by another "
                                     f"instance ({m.problem})")
            except KeyboardInterrupt:
                maker.cancel_pending()
                record(site, result)
                raise
        record(site, result)

    for kind, (fqdn, _, _) in want.items():
        if fqdn in present:
            plan.add(f"remove the instance {fqdn} an earlier create left", {"rapi": f"DELETE {g.rapi}/2/instances/"
                                                                                    f"{fqdn}"}, remove_leftover(kind))
    plan.add(f"create {' and '.join(f for f, _, _ in want.values())} at the pair's addresses"
             + (f"; keep the {' and '.join(kept)} machine" if kept else ""),
             {"rapi": f"POST {g.rapi}/2/instances ({len(want)} job(s))"}, create)
    _add_after(plan, site, want.get("hosting", (f"{pair.name}.{cfg.hosting.domain}",))[0], progress, mail,
               False, None, pair.name)
    return plan


def _primary(job: dict) -> str:
    """The instance's primary node: an instance create's result is the list of its nodes."""
    result = (job.get("opresult") or [None])[0]
    return result[0] if isinstance(result, list) and result else ""


def why(job: dict) -> str:
    """The error of a failed job, as Ganeti gives it in opresult."""
    for r in job.get("opresult") or []:
        if isinstance(r, list) and r and r[0] in ("OpPrereqError", "OpExecError"):
            return " ".join(str(x) for x in r[1]) if isinstance(r[1], list) else str(r[1])
        if r:
            return str(r)[:500]
    return job.get("status", "failed")

