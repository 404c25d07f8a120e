"""Finish an incomplete pair: rebuild only the machines that are not recorded as created."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

from xenpair.adapters.hosts import release_mounts
from xenpair.adapters.registry import Row, now
from xenpair.core import roles as guest_roles
from xenpair.core.allocate import address
from xenpair.core.build import (
    KINDS,
    NoProgress,
    PairResult,
    Progress,
    build_machines,
    check_log_dir,
)
from xenpair.core.external import add_external_ip_steps
from xenpair.core.guests import ready_to_build, refuse_building
from xenpair.core.image_choice import choose as choose_images
from xenpair.core.machines import MachineSpec
from xenpair.core.plan import Plan
from xenpair.core.site import Site
from xenpair.core.summary_mail import add_mail_step
from xenpair.core.validate import check_name
from xenpair.errors import BadInput


def plan_repair(site: Site, name: str, progress: Progress | None = None, mail: bool = True) -> Plan | None:
    """The plan that completes pair NAME, or None when it is complete already."""
    check_name(name)
    pair = site.registry.read().find(name)
    if pair is None:
        raise BadInput(f"no pair named {name!r} in the registry", hint="'xenpair list' shows the pairs")
    if pair.state == "created":
        return None
    if site.config.backend == "ganeti":
        from xenpair.core import ganeti_remake

        return ganeti_remake.plan_repair(site, pair, progress, mail)
    cfg = site.config
    if pair.tier not in site.tiers:
        raise BadInput(f"the pair's package {pair.tier!r} is no longer in the packages file",
                       hint=f"add it back to {cfg.packages_file or 'packages.yaml'} to repair the pair")
    tier = site.tiers[pair.tier]
    todo = [r for r in KINDS if getattr(pair, r) is None or getattr(pair, r).state not in ("created", "destroyed")]
    kept = [r for r in KINDS if r not in todo]
    if not todo:            # e.g. hosting destroyed on purpose, backup created: nothing is broken
        return None
    check_log_dir(site)
    ext = pair.hosting.external_ip if pair.hosting and pair.hosting.external_ip else None
    specs: dict[str, MachineSpec] = {}
    leftovers: dict[str, list[str]] = {}
    for kind in todo:
        side, row = getattr(cfg, kind), getattr(pair, kind)
        spec = MachineSpec(kind=kind, fqdn=row.name if row else f"{name}.{side.domain}",
                           ip=address(side.prefix, pair.n), prefix=side.prefix, bridge=side.bridge,
                           gateway=side.gateway, size=getattr(tier, kind), xci=cfg.xci(kind),
                           external_ip=IPv4Address(ext) if kind == "hosting" and ext else None,
                           roles=guest_roles.for_machine(site.config, kind, kind == "hosting" and bool(ext)))
        leftovers[kind] = _check_host(site, spec)
        # what is there belongs to this pair (the registry reserved it): --force rebuilds over it
        specs[kind] = replace(spec, force=bool(leftovers[kind]))

    images = choose_images(site, todo)
    specs = {kind: replace(spec, install=images[kind].argv()) for kind, spec in specs.items()}
    missing = {r: Row(r, specs[r].ip, specs[r].fqdn, pair.tier, created=now(), state="reserved")
               for r in todo if getattr(pair, r) is None}
    plan = Plan(f"repair pair {name}", {
        "name": name, "tier": pair.tier, "n": pair.n, "kept": kept,
        "machines": {r: {**specs[r].describe(), "host": site.hosts[r].name} for r in todo},
        "images": {kind: images[kind].to_dict() for kind in todo}})

    def add_rows() -> None:
        with site.registry.locked() as locked:
            for row in missing.values():
                locked.add(row)

    def release() -> None:
        for kind, spec in specs.items():
            for mount in release_mounts(site.hosts[kind], spec.storage_paths):
                (progress or NoProgress()).note(kind, f"unmounted {mount}, left by an earlier build")

    def build() -> None:
        built, log = build_machines(site, name, specs, progress or NoProgress())
        plan.result = PairResult("repair", name, pair.tier, pair.n, built, run_log=log, kept=kept)

    if missing:
        plan.add("add the missing registry row(s)",
                 {"registry": {r: {"file": str(getattr(cfg.registry, r)), "row": row.render()}
                               for r, row in missing.items()}}, add_rows)
    plan.add("unmount whatever an earlier build of these machines left mounted",
             {"storage": {r: s.storage_paths for r, s in specs.items()}}, release)
    plan.add(f"rebuild {' and '.join(s.fqdn for s in specs.values())}"
             + (f"; keep the {' and '.join(kept)} machine" if kept else ""),
             {"commands": {r: {"host": site.hosts[r].name, "argv": s.argv(), "overwrites": leftovers[r]}
                           for r, s in specs.items()}}, build)
    guest_roles.add_register_step(plan, site, specs)
    if "hosting" in specs and specs["hosting"].external_ip:
        add_external_ip_steps(plan, site, specs["hosting"])
    if mail:
        add_mail_step(plan, site, pair.hosting.name if pair.hosting else f"{name}.{cfg.hosting.domain}")
    guest_roles.add_sync_step(plan, site, specs)      # first: before anything is reserved or built
    return plan


def _check_host(site: Site, spec: MachineSpec) -> list[str]:
    """Refuse while a build of this machine still runs; return what an earlier one left."""
    refuse_building(site, spec)
    return ready_to_build(site, spec)
