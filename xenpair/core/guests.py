"""Guests that exist already: what of them is on disk, are they running (shared by destroy and rebuild)."""

from __future__ import annotations

import os
import re

from xenpair.adapters import toolstack
from xenpair.core.machines import MachineSpec
from xenpair.core.site import Site
from xenpair.errors import BadInput, Failed


def existing_files(site: Site, spec: MachineSpec) -> list[str]:
    """What of this guest exists on its host: cfg file, image dir or LVs."""
    _, exists = site.hosts[spec.kind].probe(spec.xci.command, [spec.cfg_path] + spec.storage_paths)
    return [p for p, there in exists.items() if there]


def machine_spec(site: Site, pair, kind: str) -> MachineSpec:
    """The spec of an existing machine, as far as deleting or rebuilding it needs it."""
    cfg, row = site.config, getattr(pair, kind)
    side = getattr(cfg, kind)
    tier = site.tiers.get(row.package)
    size = getattr(tier, kind) if tier else None
    return MachineSpec(kind=kind, fqdn=row.name, ip=row.ip, prefix=side.prefix, bridge=side.bridge,
                       gateway=side.gateway, size=size, xci=cfg.xci(kind))


def refuse_running(site: Site, specs: dict[str, MachineSpec], stop: bool = False) -> list[str]:
    """The running guests among SPECS; without STOP, running guests are refused."""
    up = [r for r, s in specs.items() if toolstack.running(site.hosts[r], site.config.toolstack, s.fqdn)]
    if up and not stop:
        names = ", ".join(f"{specs[r].fqdn} on {site.hosts[r].name}" for r in up)
        raise BadInput(f"refusing: {names} is running",
                       hint=f"shut it down first ({site.config.toolstack} shutdown), or pass --stop")
    return up


def refuse_building(site: Site, spec: MachineSpec) -> None:
    """Refuse while a xen-create-image for this guest still runs on its host (another xenpair's build).

    A killed xenpair's builds do not outlive it: they die of SIGPIPE at their next line of output
    (measured: within 0.04 s), leaving the guest's image mounted; repair releases that."""
    host = site.hosts[spec.kind]
    # "[w]eb" matches "web" but not the pgrep command line itself
    pattern = f"--hostname=[{spec.fqdn[0]}]{re.escape(spec.fqdn[1:])}( |$)"
    running = host.run(["pgrep", "-a", "-f", "--", pattern])
    if running.returncode == 0:
        pids = ", ".join(line.split()[0] for line in running.stdout.splitlines())
        raise Failed(f"a build of {spec.fqdn} is still running on host {host.name} (pid {pids})",
                     hint="another xenpair (or someone by hand) is building it: wait for that run to end, "
                          "then run the command again (a killed xenpair's builds die with it)")


def ready_to_build(site: Site, spec: MachineSpec) -> list[str]:
    """Check that SPEC's host can build it (root, xen-create-image, cfg_dir), in one round trip.

    Returns what of this guest already exists there (cfg file, image dir or LVs).
    """
    host, x = site.hosts[spec.kind], spec.xci
    if not host.remote and os.geteuid() != 0:
        raise Failed("xen-create-image must run as root", where="this host",
                     hint="run xenpair as root (sudo xenpair ...)")
    found, exists = host.probe(x.command, [x.cfg_dir, spec.cfg_path] + spec.storage_paths)
    if found is None:
        raise Failed(f"{x.command} not found on host {host.name}",
                     hint="install Debian's xen-tools: apt-get install --no-install-recommends xen-tools")
    if not exists[x.cfg_dir]:
        raise Failed(f"cfg_dir {x.cfg_dir} does not exist on host {host.name}",
                     hint="create it, or set xen_create_image.cfg_dir in the config")
    return [p for p in [spec.cfg_path] + spec.storage_paths if exists[p]]
