"""Rebuild an existing pair in place: same N, --force; by default only the hosting machine."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

from xenpair.adapters import toolstack
from xenpair.config import resolve_tier
from xenpair.core import roles as guest_roles
from xenpair.core.build import (
    KINDS,
    NoProgress,
    PairResult,
    Progress,
    build_machines,
    check_log_dir,
)
from xenpair.core.external import add_external_ip_steps
from xenpair.core.guests import machine_spec, ready_to_build, refuse_building, refuse_running
from xenpair.core.image_choice import choose as choose_images
from xenpair.core.lifecycle import add_start_step
from xenpair.core.plan import Plan
from xenpair.core.ready import add_forget_keys_steps, add_wait_step
from xenpair.core.site import Site
from xenpair.core.summary_mail import add_mail_step
from xenpair.core.validate import check_external_ip, check_name
from xenpair.errors import AlreadyExists, BadInput


def plan_rebuild(site: Site, tier_arg: str, name: str, external_ip: str | None, progress: Progress | None = None,
                 rebuild_backup: bool = False, stop: bool = False, start: bool = False, mail: bool = True,
                 wait: float | None = None, authorized_keys: tuple[str, ...] = ()) -> Plan:
    """The backup machine holds the customer's backups: it is rebuilt only with REBUILD_BACKUP."""
    cfg = site.config
    check_name(name)
    tier_name = resolve_tier(site.tiers, tier_arg)
    snap = site.registry.read()
    pair = snap.find(name)
    if pair is None:
        raise BadInput(f"there is no pair {name!r} to rebuild", hint="leave out --overwrite to create it")
    if pair.state in ("reserved", "creating"):
        raise AlreadyExists(f"the pair {name!r} is being created right now (state {pair.state})",
                            hint=f"wait for it; if no xenpair runs for it any more, use 'xenpair repair {name}'")
    kinds = ["hosting"] + (["backup"] if rebuild_backup else [])
    missing = [r for r in kinds if getattr(pair, r) is None]
    if missing:
        raise BadInput(f"the pair {name!r} has no {missing[0]} row", hint=f"finish it with 'xenpair repair {name}'")
    own_ext = pair.hosting.external_ip or None
    if external_ip is not None:
        others = {ip: who for ip, who in snap.external_ips().items() if who != pair.hosting.name}
        ext = str(check_external_ip(external_ip, cfg, others))
    else:
        ext = own_ext
    if cfg.backend == "ganeti":
        from xenpair.core import ganeti_remake

        return ganeti_remake.plan_rebuild(site, pair, tier_name, kinds, ext, progress or NoProgress(), stop, start,
                                         mail, wait, authorized_keys)
    check_log_dir(site)
    tier = site.tiers[tier_name]
    specs, doomed = {}, {}
    for kind in kinds:
        spec = replace(machine_spec(site, pair, kind), size=getattr(tier, kind), force=True,
                       external_ip=IPv4Address(ext) if kind == "hosting" and ext else None,
                       roles=guest_roles.for_machine(site.config, kind, kind == "hosting" and bool(ext),
                                                     authorized_keys))
        refuse_building(site, spec)
        doomed[kind] = ready_to_build(site, spec)
        specs[kind] = spec
    hosts = site.hosts
    running = refuse_running(site, specs, stop)
    images = choose_images(site, kinds)
    specs = {kind: replace(spec, install=images[kind].argv()) for kind, spec in specs.items()}
    kept = [r for r in KINDS if r not in kinds]
    plan = Plan(f"rebuild pair {name}", {
        "name": name, "tier": tier_name, "n": pair.n, "kept": kept, "backups_lost": rebuild_backup,
        "machines": {r: {**specs[r].describe(), "host": hosts[r].name} for r in kinds},
        "images": {kind: images[kind].to_dict() for kind in kinds},
        "deletes": {r: {"host": hosts[r].name, "fqdn": specs[r].fqdn, "paths": doomed[r]} for r in kinds}})
    shown = progress or NoProgress()

    def shut_down() -> None:
        for kind in running:
            shown.note(kind, f"shutting down {specs[kind].fqdn}")
            toolstack.shutdown(hosts[kind], cfg.toolstack, specs[kind].fqdn)

    def update_rows() -> None:
        with site.registry.locked() as locked:
            p = locked.find(name)
            for kind in kinds:
                changes = {"package": tier_name}
                if kind == "hosting":
                    changes["external_ip"] = ext or ""
                locked.mark(getattr(p, kind), **changes)

    def build() -> None:
        built, log = build_machines(site, name, specs, shown)
        plan.result = PairResult("rebuild", name, tier_name, pair.n, built, run_log=log, kept=kept)

    if running:
        plan.add(f"shut down {', '.join(specs[r].fqdn for r in running)} ({cfg.toolstack} shutdown -w)",
                 {"running": running}, shut_down)
    plan.add(f"update the registry rows of {' and '.join(kinds)} (package {tier_name}"
             + (f", external IP {ext}" if ext else "") + ")", {"rows": kinds}, update_rows)
    add_forget_keys_steps(plan, site, specs)
    plan.add(f"rebuild {' and '.join(specs[r].fqdn for r in kinds)} with --force"
             + ("" if rebuild_backup else "; the backup machine and its backups are kept"),
             {"commands": {r: {"host": hosts[r].name, "argv": specs[r].argv(), "overwrites": doomed[r]}
                           for r in kinds}}, build)
    guest_roles.add_register_step(plan, site, specs)
    if ext:
        add_external_ip_steps(plan, site, specs["hosting"])
    if mail:
        add_mail_step(plan, site, specs["hosting"].fqdn)
    if start:
        add_start_step(plan, site, specs, shown)
        if wait is not None:
            add_wait_step(plan, site, None, wait, shown, name=name)
    guest_roles.add_sync_step(plan, site, specs)      # first: before anything is reserved or built
    return plan
