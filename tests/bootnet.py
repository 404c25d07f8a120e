"""Booting built guests in place of Xen, shared by tests/test_ready_boot.py and bench/ready.py.

The toolstack is tests/tools/qemu-xl, a STAND-IN for `xl` (no Xen hypervisor runs here) that boots
the guest under QEMU. The dom0 side of the guests' networks is bridges in the caller's own network
namespace (the tests' sandbox), with documentation-range addresses only, forwarding between them
as the dom0s would; nothing leaves the namespace.
"""

from __future__ import annotations

import shlex
import subprocess
from contextlib import contextmanager
from pathlib import Path

import yaml

QEMU_XL = Path(__file__).resolve().parent / "tools" / "qemu-xl"
BRIDGES = {"xenbr1": "198.51.100.1/24", "xenbr2": "192.0.2.1/24", "xenbr0": "203.0.113.1/24"}
BOOT_TIER = {"hosting": {"ram_mb": 512, "vcpus": 1, "disk_gb": 2, "swap_mb": 0},
             "backup": {"ram_mb": 384, "vcpus": 1, "disk_gb": 2, "swap_mb": 0}}


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


@contextmanager
def bridges():
    """xenbr1 (hosting 198.51.100.0/24), xenbr2 (backup 192.0.2.0/24), xenbr0 (external
    203.0.113.0/24), the dom0 addresses .1 on each, forwarding on: in this network namespace."""
    for name, address in BRIDGES.items():
        _ip("link", "add", name, "type", "bridge")
        _ip("addr", "add", address, "dev", name)
        _ip("link", "set", name, "up")
    forward = Path("/proc/sys/net/ipv4/ip_forward")          # this namespace's own
    old = forward.read_text()
    forward.write_text("1\n")
    try:
        yield
    finally:
        forward.write_text(old)
        for name in BRIDGES:
            subprocess.run(["ip", "link", "del", name], check=False)


def boot_config(config: dict, state: Path, timeout: float) -> dict:
    """Documentation-range networks, gateways on the dom0 bridges, the QEMU stand-in as toolstack,
    a `boot` package tier (enough memory to boot bookworm under QEMU)."""
    xl = state.parent / "qemu-xl"
    xl.write_text(f"#!/bin/sh\nexec python3 {shlex.quote(str(QEMU_XL))} --state {shlex.quote(str(state))} \"$@\"\n")
    xl.chmod(0o755)
    config["hosting"].update(prefix="198.51.100.0/24", gateway="198.51.100.1", bridge="xenbr1")
    config["backup"].update(prefix="192.0.2.0/24", gateway="192.0.2.1", bridge="xenbr2")
    config["external"] = {"bridge": "xenbr0", "netmask": "255.255.255.0", "gateway": "203.0.113.1"}
    config["toolstack"] = str(xl)
    config["ready"] = {"timeout": timeout, "known_hosts": str(state.parent / "ssh_known_hosts")}
    packages = Path(config["packages_file"])
    packages.write_text(yaml.safe_dump({**yaml.safe_load(packages.read_text()), "boot": BOOT_TIER}))
    return config


def stop_guests(state: Path) -> None:
    for pidfile in state.glob("*.pid"):
        subprocess.run(["python3", str(QEMU_XL), "--state", str(state), "destroy", pidfile.stem], check=False)


def console_tail(state: Path, lines: int = 25) -> str:
    return "\n".join(f"--- {c.name}\n" + "\n".join(c.read_text(errors="replace").splitlines()[-lines:])
                     for c in sorted(state.glob("*.console")))
