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
