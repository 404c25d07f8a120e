"""What one machine of a pair is, and the exact xen-create-image argv that builds it."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from xenpair.config import Machine, XenCreateImage

if TYPE_CHECKING:
    from xenpair.core.roles import RoleRun


@dataclass(frozen=True)
class MachineSpec:
    kind: str                     # "hosting" | "backup"
    fqdn: str
    ip: IPv4Address
    prefix: IPv4Network
    bridge: str
    gateway: IPv4Address | None
    size: Machine | None           # None: an existing machine whose tier is no longer defined
    xci: XenCreateImage
    external_ip: IPv4Address | None = None
    force: bool = False
    # the role scripts run in the guest (the external IP's, the site's) and their environment
    roles: RoleRun | None = None
    # how the root file system gets in: a golden image's --install-method=tar/--install-source
    install: tuple[str, ...] = ()

    @property
    def ips(self) -> list[IPv4Address]:
        return [self.ip] + ([self.external_ip] if self.external_ip else [])

    @property
    def cfg_path(self) -> str:
        return f"{self.xci.cfg_dir.rstrip('/')}/{self.fqdn}.cfg"

    @property
    def storage_paths(self) -> list[str]:
        """What xen-create-image creates for this guest (and refuses to overwrite without --force)."""
        st = self.xci.storage
        if st.dir:
            return [f"{st.dir.rstrip('/')}/domains/{self.fqdn}"]
        # an existing machine whose tier is gone (size None) may have a swap LV
        parts = ["disk"] + (["swap"] if self.size is None or self.size.swap else [])
        return [f"/dev/{st.lvm}/{self.fqdn}-{p}" for p in parts]

    def argv(self) -> list[str]:
        x, s = self.xci, self.size
        argv = self.roles.argv_prefix() if self.roles else []
        argv += [x.command, f"--hostname={self.fqdn}"]
        argv += [f"--ip={ip}" for ip in self.ips]
        argv.append(f"--netmask={self.prefix.netmask}")
        if self.gateway:
            argv.append(f"--gateway={self.gateway}")
        argv += [f"--bridge={self.bridge}", f"--memory={s.ram_mb}Mb"]
        argv.append(f"--swap={s.swap}Mb" if s.swap else "--noswap")
        argv += [f"--size={s.disk_gb}Gb", f"--vcpus={s.vcpus}", f"--dist={x.dist}", f"--fs={x.fs}"]
        if x.pygrub:
            argv.append("--pygrub")    # never --nopygrub: broken in 4.9 (reference §4.6)
        # --verbose: the output says which step the build is in (for the live view and the log)
        argv += [x.storage.option, f"--output={x.cfg_dir}", "--hash_method=sha512", "--verbose"]
        if self.force:
            argv.append("--force")
        if self.roles:
            argv += self.roles.options()
        return argv + list(self.install) + list(x.extra_args)

    def describe(self) -> dict:
        return {"kind": self.kind, "fqdn": self.fqdn, "ip": str(self.ip),
                "external_ip": str(self.external_ip) if self.external_ip else None,
                "ram_mb": self.size.ram_mb, "vcpus": self.size.vcpus, "disk_gb": self.size.disk_gb,
                "swap_mb": self.size.swap, "bridge": self.bridge,
                "gateway": str(self.gateway) if self.gateway else None, "cfg": self.cfg_path,
                "roles": list(self.roles.names) if self.roles else []}
