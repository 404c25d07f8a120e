"""Remove a pair: xen-delete-image on each host, the cfg files, then the registry rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from xenpair.core import roles as guest_roles
from xenpair.core.build import KINDS
from xenpair.core.guests import existing_files, machine_spec, refuse_building, refuse_running
from xenpair.core.machines import MachineSpec
from xenpair.core.plan import Plan
from xenpair.core.ready import add_forget_keys_steps
from xenpair.core.site import Site
from xenpair.core.validate import check_name
from xenpair.errors import BadInput, Failed


def doomed_machines(site: Site, name: str, keep_backup: bool):
    """(the pair, the kinds of its machines a destroy removes) — for either backend."""
    check_name(name)
    pair = site.registry.read().find(name)
    if pair is None:
        raise BadInput(f"no pair named {name!r} in the registry", hint="'xenpair list' shows the pairs")
    return pair, [r for r in KINDS if getattr(pair, r) is not None and getattr(pair, r).state != "destroyed"
                  and not (keep_backup and r == "backup")]


def plan_destroy(site: Site, name: str, keep_backup: bool = False) -> Plan:
    pair, kinds = doomed_machines(site, name, keep_backup)
    if site.config.backend == "ganeti":
        from xenpair.core import ganeti_changes

        return ganeti_changes.plan_destroy(site, pair, kinds, keep_backup)
    specs = {r: machine_spec(site, pair, r) for r in kinds}
    for spec in specs.values():
        refuse_building(site, spec)
    refuse_running(site, specs)
    doomed = {r: existing_files(site, s) for r, s in specs.items()}
    plan = Plan(f"destroy pair {name}", {
        "name": name, "tier": pair.tier, "n": pair.n, "kept": ["backup"] if keep_backup else [],
        "deletes": {r: {"host": site.hosts[r].name, "fqdn": specs[r].fqdn, "paths": doomed[r]} for r in kinds}})

    def delete(kind: str):
        def run() -> None:
            spec, host = specs[kind], site.hosts[kind]
            r = host.run(_delete_argv(spec))
            # xen-delete-image exits 0 even for hosts it does not know: look for ourselves
            host.run(["rm", "-f", "--", spec.cfg_path])       # it only knows /etc/xen, not cfg_dir
            left = existing_files(site, spec)
            if left:
                raise Failed(f"{spec.fqdn} is not fully deleted on host {host.name}: {', '.join(left)} "
                             f"still there (xen-delete-image exited {r.returncode})",
                             details="\n".join("  " + line for line in (r.stdout + r.stderr).splitlines()[-20:]),
                             hint="remove them by hand; the registry still lists the pair")
        return run

    def forget() -> None:
        forget_rows(site, name, keep_backup)
        plan.result = DestroyResult(name, pair.n, list(specs), ["backup"] if keep_backup else [],
                                    freed=not keep_backup)

    for kind in kinds:
        plan.add(f"delete {specs[kind].fqdn} on host {site.hosts[kind].name}",
                 {"commands": {kind: {"host": site.hosts[kind].name, "argv": _delete_argv(specs[kind]),
                                      "deletes": doomed[kind]}}}, delete(kind))
    guest_roles.add_unregister_steps(plan, site, specs)
    add_forget_keys_steps(plan, site, specs)
    plan.add("mark the hosting machine destroyed in the registry (backup kept)" if keep_backup else
             f"remove the pair's rows from the registry (address number {pair.n} is free again)",
             {"change": "hosting row: state destroyed" if keep_backup else "both rows removed"}, forget)
    return plan


def forget_rows(site: Site, name: str, keep_backup: bool) -> None:
    """The registry after a destroy: both rows gone (the number is free), or with KEEP_BACKUP the
    hosting row marked destroyed; the machines' state entries forgotten."""
    with site.registry.locked() as locked:
        p = locked.find(name)
        for kind in KINDS:
            row = getattr(p, kind) if p else None
            if row is None:
                continue
            if keep_backup and kind == "hosting":
                locked.mark(row, state="destroyed")
                locked.forget_machine(row)
            elif not keep_backup:
                locked.remove(row)
                locked.forget_machine(row)


@dataclass
class DestroyResult:
    name: str
    n: int
    destroyed: list[str]
    kept: list[str]
    freed: bool          # the address number is free again

    def to_dict(self) -> dict:
        return asdict(self)


def _delete_argv(spec: MachineSpec) -> list[str]:
    return [spec.xci.delete_command, spec.xci.storage.option, f"--hostname={spec.fqdn}"]
