"""The hosting machine's external IP on its own vif (dom0 cfg) and on eth1 (inside the guest)."""

from __future__ import annotations

from pathlib import Path

from xenpair.adapters import xencfg
from xenpair.core.machines import MachineSpec
from xenpair.core.site import Site
from xenpair.errors import Failed


def predicted_patch(spec: MachineSpec, site: Site, mac: str) -> str:
    """The vif change as it will look: xen-tools writes one vif listing both IPs."""
    line = (f"vif         = [ 'ip={spec.ip} {spec.external_ip} ,mac=(set by xen-create-image),"
            f"bridge={spec.bridge}' ]\n")
    new = xencfg.move_external_ip(line, str(spec.external_ip), mac, site.config.external.bridge, spec.cfg_path)
    return xencfg.diff(line, new, spec.cfg_path)


def patch_cfg(site: Site, spec: MachineSpec, mac: str) -> dict:
    """Move the external IP onto its own vif in the hosting machine's cfg; keep <cfg>.bak."""
    path = spec.cfg_path
    try:
        old = Path(path).read_text()
    except OSError as e:
        raise Failed(f"cannot read {path}: {e.strerror}") from None
    taken = xencfg.macs_in(spec.xci.cfg_dir)
    if mac in taken:                      # taken since the plan was made (e.g. by this very build)
        mac = xencfg.new_mac(taken)
    new = xencfg.move_external_ip(old, str(spec.external_ip), mac, site.config.external.bridge, path)
    if new == old:
        return {"file": path, "changed": False, "diff": "", "message": "already done"}
    xencfg.write_with_backup(path, new)
    return {"file": path, "changed": True, "diff": xencfg.diff(old, new, path), "backup": path + ".bak"}


def taken_macs(site: Site) -> set[str]:
    """MACs of every guest in the hosting cfg_dir and, if the backup dom0 is another host, in its cfg_dir."""
    taken = xencfg.macs_in(site.config.xci("hosting").cfg_dir)
    backup = site.hosts["backup"]
    if backup.remote:
        taken |= xencfg.macs_on(backup, site.config.xci("backup").cfg_dir)
    return taken


def add_external_ip_steps(plan, site: Site, spec) -> None:
    """Call after adding the build step: the hosting cfg gets the external IP's own vif.
    (The role that puts the IP on eth1 in the guest is synced with the others: core.roles.)"""
    mac = xencfg.new_mac(taken_macs(site))

    def patch() -> None:
        result = plan.result
        if spec.kind in result.machines and result.machines[spec.kind].ok:
            result.cfg_patch = patch_cfg(site, spec, mac)
            if result.run_log and result.cfg_patch["diff"]:
                with open(result.run_log, "a") as log:
                    log.write(result.cfg_patch["diff"])

    plan.add(f"move {spec.external_ip} onto its own vif (bridge {site.config.external.bridge}) in {spec.cfg_path}; "
             "keep .bak", {"cfg_patch": {"file": spec.cfg_path, "diff": predicted_patch(spec, site, mac)}},
             patch)
