"""Create a pair: check arguments -> check the world -> plan -> (dry run stops) -> apply."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from xenpair.adapters import xen_create_image as xci
from xenpair.adapters.hosts import release_mounts
from xenpair.adapters.registry import Row, Snapshot, now
from xenpair.config import resolve_tier
from xenpair.core.allocate import address, allocate, host_number
from xenpair.core.machines import MachineSpec
from xenpair.core.plan import Plan
from xenpair.core.site import Site
from xenpair.core.validate import check_external_ip, check_name
from xenpair.errors import AlreadyExists, BadInput, Failed, XenpairError

Reporter = Callable[[str, str], None]     # (role, message)
ROLES = ("hosting", "backup")
TAIL_LINES = 20


class Stale(XenpairError):
    """The registry changed between planning and reserving (another xenpair got there first)."""


@dataclass
class BuildResult:
    spec: MachineSpec
    host: str
    ok: bool = False
    exit_code: int | None = None
    elapsed: float = 0.0
    problem: str | None = None
    summary: xci.Summary | None = None
    log: str | None = None
    tail: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**self.spec.describe(), "host": self.host, "ok": self.ok,
                "exit_code": self.exit_code, "elapsed_s": round(self.elapsed, 1),
                "problem": self.problem, "log": self.log,
                "summary": self.summary.to_dict() if self.summary else None,
                "output_tail": self.tail if not self.ok else []}


@dataclass
class CreateResult:
    name: str
    tier: str
    n: int
    machines: dict[str, BuildResult]

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.machines.values())

    @property
    def state(self) -> str:
        failed = [r for r, m in self.machines.items() if not m.ok]
        return "created" if not failed else "failed (" + " and ".join(failed) + ")"

    def to_dict(self) -> dict:
        return {"name": self.name, "tier": self.tier, "n": self.n, "state": self.state,
                "ok": self.ok, **{r: m.to_dict() for r, m in self.machines.items()}}


def plan_create(site: Site, tier_arg: str, name: str, external_ip: str | None,
                report: Reporter = lambda role, msg: None) -> Plan:
    cfg = site.config
    # -- check arguments
    check_name(name)
    tier_name = resolve_tier(site.tiers, tier_arg)
    tier = site.tiers[tier_name]
    fqdns = {role: f"{name}.{getattr(cfg, role).domain}" for role in ROLES}
    for fqdn in fqdns.values():
        if len(fqdn) > 253:
            raise BadInput(f"{fqdn} is longer than 253 characters", hint="use a shorter name")
    snap = site.registry.read()
    _check_absent(snap, name)
    ext = None
    if external_ip is not None:
        ext = check_external_ip(external_ip, [cfg.hosting.prefix, cfg.backup.prefix],
                                snap.external_ips())
    n = allocate(cfg.hosting.prefix, cfg.backup.prefix, _used(site, snap))

    specs = {role: MachineSpec(
        role=role, fqdn=fqdns[role], ip=address(getattr(cfg, role).prefix, n),
        prefix=getattr(cfg, role).prefix, bridge=getattr(cfg, role).bridge,
        gateway=getattr(cfg, role).gateway, size=getattr(tier, role), xci=cfg.xci(role),
        external_ip=ext if role == "hosting" else None) for role in ROLES}
    rows = {role: Row(role, specs[role].ip, specs[role].fqdn, tier_name,
                      external_ip=str(ext) if (ext and role == "hosting") else "",
                      created=now(), state="reserved") for role in ROLES}
    # -- check the world
    for spec in specs.values():
        _check_host(site, spec)

    plan = Plan(f"create pair {name}", {
        "name": name, "tier": tier_name, "n": n,
        "machines": {role: {**specs[role].describe(), "host": site.hosts[role].name} for role in ROLES}})
    results: dict[str, BuildResult] = {}

    def reserve() -> None:
        with site.registry.locked() as locked:
            _check_absent(locked, name)
            if n in _used(site, locked):
                raise Stale(f"address number {n} was taken while planning")
            if ext and ext in locked.external_ips():
                raise BadInput(f"invalid external IP: {ext} is already the external IP of "
                               f"{locked.external_ips()[ext]}")
            for row in rows.values():
                locked.add(row)

    def build() -> None:
        try:
            results.update(_build_concurrently(site, specs, report))
        except BaseException:
            _settle(site, name, built=set())     # Ctrl-C or a crash: visibly not created
            raise

    def record() -> CreateResult:
        _settle(site, name, built={role for role, r in results.items() if r.ok})
        return CreateResult(name, tier_name, n, results)

    plan.add(f"reserve {rows['hosting'].ip} / {rows['backup'].ip} for {name} in the registry",
             {"registry": {role: {"file": str(getattr(cfg.registry, role)), "row": rows[role].render()}
                           for role in ROLES}}, reserve)
    plan.add(f"build {fqdns['hosting']} and {fqdns['backup']} at the same time",
             {"commands": {role: {"host": site.hosts[role].name, "argv": specs[role].argv()}
                           for role in ROLES}}, build)
    plan.add("record each machine as created (or failed) in the registry",
             {"state": "reserved -> created | failed"}, record)
    return plan


def _used(site: Site, snap: Snapshot) -> set[int]:
    """Numbers in use in either registry, plus the gateways': never handed out."""
    used = snap.used_numbers()
    for role in ROLES:
        side = getattr(site.config, role)
        if side.gateway is not None:
            used.add(host_number(side.gateway, side.prefix))
    return used


def _check_absent(snap: Snapshot, name: str) -> None:
    pair = snap.find(name)
    if pair is None:
        return
    if pair.state == "reserved":
        raise AlreadyExists(f"the pair {name!r} is being created right now (state reserved, "
                            f"address number {pair.n})",
                            hint="wait for the other run to finish; 'xenpair show NAME' shows its state")
    raise AlreadyExists(f"a pair named {name!r} already exists (state {pair.state}, "
                        f"address number {pair.n})",
                        hint="choose another name; rebuilding an existing pair is a separate, explicit "
                             "choice that this version does not offer yet")


def _check_host(site: Site, spec: MachineSpec) -> None:
    host = site.hosts[spec.role]
    x = spec.xci
    if host.name == "local" and os.geteuid() != 0:
        raise Failed("xen-create-image must run as root", where="this host",
                     hint="run xenpair as root (sudo xenpair ...)")
    if host.which(x.command) is None:
        raise Failed(f"{x.command} not found on host {host.name}",
                     hint="install Debian's xen-tools: apt-get install --no-install-recommends xen-tools")
    if not host.exists(x.cfg_dir):
        raise Failed(f"cfg_dir {x.cfg_dir} does not exist on host {host.name}",
                     hint="create it, or set xen_create_image.cfg_dir in the config")
    for path in [spec.cfg_path] + spec.storage_paths:
        if host.exists(path):
            raise Failed(f"{path} already exists on host {host.name}, but {spec.fqdn} is not in the registry",
                         hint="a guest of that name exists outside the registry: remove it "
                              "(xen-delete-image) or choose another name")


def _build_concurrently(site: Site, specs: dict[str, MachineSpec],
                        report: Reporter) -> dict[str, BuildResult]:
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        futures = {role: pool.submit(_build_one, site, spec, report) for role, spec in specs.items()}
        try:
            return {role: f.result() for role, f in futures.items()}
        except BaseException:
            site.terminate_all()        # Ctrl-C: stop both builds, then let the caller record it
            raise


def _build_one(site: Site, spec: MachineSpec, report: Reporter) -> BuildResult:
    host = site.hosts[spec.role]
    report(spec.role, f"building {spec.fqdn} on {host.name}")
    run = host.run(spec.argv())
    problem = xci.problem(run.returncode, run.stdout, run.stderr)
    result = BuildResult(spec, host.name, ok=problem is None, exit_code=run.returncode,
                         elapsed=run.elapsed, problem=problem,
                         log=xci.logfile(run.stdout) or f"{spec.xci.log_dir}/{spec.fqdn}.log")
    if problem is None:
        result.summary = xci.parse_summary(run.stdout)
        report(spec.role, f"{spec.fqdn} built in {run.elapsed:.1f} s")
    else:
        result.tail = (run.stdout + run.stderr).splitlines()[-TAIL_LINES:]
        report(spec.role, f"{spec.fqdn} FAILED after {run.elapsed:.1f} s: {problem}")
        for mount in release_mounts(host, spec.storage_paths):
            report(spec.role, f"unmounted {mount}, which xen-create-image left behind")
    return result


def _settle(site: Site, name: str, built: set[str]) -> None:
    """The pair's rows still 'reserved' become 'created' (machines in BUILT) or 'failed'."""
    with site.registry.locked() as locked:
        pair = locked.find(name)
        for role in ROLES:
            row = getattr(pair, role) if pair else None
            if row is not None and row.state == "reserved":
                if role in built:
                    locked.mark(row, state="created", created=now())
                else:
                    locked.mark(row, state="failed")
