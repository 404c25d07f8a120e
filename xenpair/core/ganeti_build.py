"""What the Ganeti backend's create, repair and rebuild share: the result they report (like
core.build.PairResult on xen-tools), submitting instance creates and following their jobs
(Ctrl-C cancels what has not started), recording the machines in the registry."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from xenpair.adapters.xen_create_image import Summary
from xenpair.core.build import KINDS, Progress
from xenpair.core.site import Site
from xenpair.errors import BadInput, Failed

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
                "started": self.started, "mail": self.mail, "run_log": self.run_log,
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

    def run(self, body: Callable[[], None]) -> None:
        """BODY (submits and follows) with a RAPI client of its own; then the machines it submitted
        are recorded — on Ctrl-C too, after cancelling what has not started (repair or destroy
        finish them)."""
        from xenpair.core import ganeti

        with ganeti.rapi(self.site) as self.client:
            try:
                body()
            except KeyboardInterrupt:
                self.cancel_pending()
                record(self.site, self.result)
                raise
        record(self.site, self.result)

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
