"""Create a pair: check arguments -> check the world -> plan -> (dry run stops) -> apply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from xenpair.adapters.registry import Row, Snapshot, now, short_name
from xenpair.config import resolve_tier
from xenpair.core import roles as guest_roles
from xenpair.core.allocate import address, allocate, host_number
from xenpair.core.build import (
    KINDS,
    NoProgress,
    PairResult,
    Progress,
    build_machines,
    check_log_dir,
)
from xenpair.core.external import add_external_ip_steps
from xenpair.core.guests import ready_to_build
from xenpair.core.image_choice import choose as choose_images
from xenpair.core.lifecycle import add_start_step
from xenpair.core.machines import MachineSpec
from xenpair.core.plan import Plan
from xenpair.core.ready import add_wait_step
from xenpair.core.site import Site
from xenpair.core.summary_mail import add_mail_step
from xenpair.core.validate import check_external_ip, check_name
from xenpair.errors import AlreadyExists, BadInput, Failed, XenpairError


class Stale(XenpairError):
    """The registry changed between planning and reserving (another xenpair got there first)."""


MAX_REPLANS = 50


def apply_replanning(plan: Plan, replan: Callable[[], Plan]):
    """Apply a create's PLAN; when another xenpair took its address in between (Stale: nothing
    was reserved or built), make a new plan with REPLAN and apply that — at most MAX_REPLANS
    times. The CLI and the web worker both build through this."""
    from xenpair.core.plan import apply

    for _ in range(MAX_REPLANS):
        try:
            return apply(plan)
        except Stale:
            plan = replan()
    raise BadInput("the registry kept changing while reserving an address",
                   hint="too many xenpair runs at once; run again")


def plan_create(site: Site, tier_arg: str, name: str, external_ip: str | None,
                progress: Progress | None = None, start: bool = False, mail: bool = True,
                wait: float | None = None, authorized_keys: tuple[str, ...] = ()) -> Plan:
    """AUTHORIZED_KEYS: public keys already checked (validate.check_ssh_keys) for the hosting root."""
    if site.config.backend == "ganeti":
        from xenpair.core import ganeti_pairs

        return ganeti_pairs.plan_create(site, tier_arg, name, external_ip, progress, authorized_keys, start=start,
                                        mail=mail, wait=wait)
    cfg = site.config
    hosts = site.hosts            # an SSH backup dom0 starts connecting now, in the background
    # -- check arguments
    check_name(name)
    tier_name = resolve_tier(site.tiers, tier_arg)
    tier = site.tiers[tier_name]
    fqdns = {kind: f"{name}.{getattr(cfg, kind).domain}" for kind in KINDS}
    for fqdn in fqdns.values():
        if len(fqdn) > 253:
            raise BadInput(f"{fqdn} is longer than 253 characters", hint="use a shorter name")
    snap = site.registry.read()
    _check_absent(snap, name)
    ext = None
    if external_ip is not None:
        ext = check_external_ip(external_ip, cfg, snap.external_ips())
    _check_gateways(site, snap)
    n = allocate(cfg.hosting.prefix, cfg.backup.prefix, _used(snap), _reserved(site, snap))

    specs = {kind: MachineSpec(
        kind=kind, fqdn=fqdns[kind], ip=address(getattr(cfg, kind).prefix, n),
        prefix=getattr(cfg, kind).prefix, bridge=getattr(cfg, kind).bridge,
        gateway=getattr(cfg, kind).gateway, size=getattr(tier, kind), xci=cfg.xci(kind),
        external_ip=ext if kind == "hosting" else None,
        roles=guest_roles.for_machine(site.config, kind, bool(ext) and kind == "hosting", authorized_keys))
        for kind in KINDS}
    rows = {kind: Row(kind, specs[kind].ip, specs[kind].fqdn, tier_name,
                      external_ip=str(ext) if (ext and kind == "hosting") else "",
                      created=now(), state="reserved") for kind in KINDS}
    # -- check the world
    check_log_dir(site)
    for spec in specs.values():
        _check_host(site, spec)
    images = choose_images(site, list(KINDS))
    specs = {kind: replace(spec, install=images[kind].argv()) for kind, spec in specs.items()}

    plan = Plan(f"create pair {name}", {
        "name": name, "tier": tier_name, "n": n,
        "machines": {kind: {**specs[kind].describe(), "host": hosts[kind].name} for kind in KINDS},
        "images": {kind: images[kind].to_dict() for kind in KINDS}})

    def reserve() -> None:
        with site.registry.locked() as locked:
            _check_absent(locked, name)
            if n in _used(locked) | _reserved(site, locked):
                raise Stale(f"address number {n} was taken while planning")
            if ext and ext in locked.external_ips():
                raise BadInput(f"invalid external IP: {ext} is already the external IP of "
                               f"{locked.external_ips()[ext]}")
            for row in rows.values():
                locked.add(row)

    def build() -> None:
        built, log = build_machines(site, name, specs, progress or NoProgress())
        plan.result = PairResult("create", name, tier_name, n, built, run_log=log)

    plan.add(f"reserve {rows['hosting'].ip} / {rows['backup'].ip} for {name} in the registry",
             {"registry": {kind: {"file": str(getattr(cfg.registry, kind)), "row": rows[kind].render()}
                           for kind in KINDS}}, reserve)
    plan.add(f"build {fqdns['hosting']} and {fqdns['backup']} at the same time "
             "(registry: creating, then created or failed)",
             {"commands": {kind: {"host": site.hosts[kind].name, "argv": specs[kind].argv()}
                           for kind in KINDS}}, build)
    guest_roles.add_register_step(plan, site, specs)
    if ext:
        add_external_ip_steps(plan, site, specs["hosting"])
    if mail:
        add_mail_step(plan, site, fqdns["hosting"])
    if start:
        add_start_step(plan, site, specs, progress or NoProgress())
        if wait is not None:
            add_wait_step(plan, site, None, wait, progress or NoProgress(), name=name)
    guest_roles.add_sync_step(plan, site, specs)      # first: before anything is reserved or built
    return plan


def _used(snap: Snapshot) -> set[int]:
    """Numbers of the pairs in either registry (dom0 rows are reserved, not used)."""
    return {snap.number(r) for kind in ("hosting", "backup") for r in snap.rows(kind) if not r.is_dom0}


def _reserved(site: Site, snap: Snapshot) -> frozenset[int]:
    """Numbers never handed out: the dom0 rows', the gateways', each side's reserved addresses."""
    out = {snap.number(r) for kind in ("hosting", "backup") for r in snap.rows(kind) if r.is_dom0}
    for kind in KINDS:
        side = getattr(site.config, kind)
        out |= {host_number(ip, side.prefix) for ip in side.never_allocated}
    return frozenset(out)


def _check_gateways(site: Site, snap: Snapshot) -> None:
    """A gateway on a pair's address is a config mistake that allocation cannot mend."""
    for kind in KINDS:
        side = getattr(site.config, kind)
        if side.gateway is None:
            continue
        n = host_number(side.gateway, side.prefix)
        row = snap.row_at("hosting", n) or snap.row_at("backup", n)
        if row is not None:
            raise BadInput(f"{kind}.gateway {side.gateway} is the address of pair {short_name(row.name)} "
                           f"(number {n})",
                           where=f"{snap.files[row.kind].path}:{row.line}",
                           hint=f"set {kind}.gateway in the config to the real gateway's address")


def _check_absent(snap: Snapshot, name: str) -> None:
    pair = snap.find(name)
    if pair is None:
        return
    if pair.state in ("reserved", "creating"):
        raise AlreadyExists(f"the pair {name!r} is being created right now (state {pair.state}, "
                            f"address number {pair.n})",
                            hint=f"wait for the other run to finish; if none is running any more (it was "
                                 f"killed), finish the pair with 'xenpair repair {name}'")
    raise AlreadyExists(f"a pair named {name!r} already exists (state {pair.state}, "
                        f"address number {pair.n})",
                        hint=f"choose another name, or rebuild it: 'xenpair create PACKAGE {name} --overwrite' "
                             "(the hosting machine; --rebuild-backup for both); an incomplete pair is finished "
                             f"with 'xenpair repair {name}'")


def _check_host(site: Site, spec: MachineSpec) -> None:
    existing = ready_to_build(site, spec)
    if existing:
        raise Failed(f"{existing[0]} already exists on host {site.hosts[spec.kind].name}, but {spec.fqdn} is not "
                     "in the registry", hint="a guest of that name exists outside the registry: remove it "
                                             "(xen-delete-image) or choose another name")
