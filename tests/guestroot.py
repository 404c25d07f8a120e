"""A real Debian guest root to run xenpair's roles in, prepared the way xen-create-image leaves it.

The cached debootstrapped bookworm root is unpacked; /proc and /dev are mounted into it (inside
the tests' private mount namespace); xen-tools' own 20-setup-apt hook points its apt at the
replaying proxy (tests/aptproxy.py), as `--apt_proxy` would; host keys are made as the
70-install-ssh hook does. Then the role scripts run exactly as xen-create-image runs them:
`ROLE_SCRIPT ROOT`, with xen-tools' variables (hostname, ip1) and xenpair's in the environment.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SETUP_APT = "/usr/share/xen-tools/bookworm.d/20-setup-apt"


def unpack(tar: Path, root: Path) -> None:
    root.mkdir(parents=True)
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-xf", str(tar)], check=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    subprocess.run(["mount", "--rbind", "/dev", str(root / "dev")], check=True)
    subprocess.run(["mount", "--make-rslave", str(root / "dev")], check=True)


def release(root: Path) -> None:
    """Unmount /dev and /proc from the root; raise if anything is still mounted below it, so that
    nobody deletes the tree while the host's /dev is bound into it."""
    for sub in ("dev", "proc"):
        subprocess.run(["umount", "--recursive", "--lazy", str(root / sub)], check=False)
    prefix = str(root).rstrip("/") + "/"
    left = [line.split()[4] for line in open("/proc/self/mountinfo") if line.split()[4].startswith(prefix)]
    if left:
        raise RuntimeError(f"still mounted below {root}: {left}; do not delete it")


def setup_apt(root: Path, proxy, log: Path) -> None:
    """The guest's apt as xen-tools' 20-setup-apt sets it up, through the replaying PROXY (AptProxy)."""
    env = dict(os.environ, mirror=proxy.mirror, dist="bookworm", arch="amd64", apt_proxy=proxy.url)
    with open(log, "a") as out:
        subprocess.run([SETUP_APT, str(root)], env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
        subprocess.run(["chroot", str(root), "ssh-keygen", "-A"], stdout=out, stderr=subprocess.STDOUT, check=True)


def run_role(roles_dir: Path, name: str, root: Path, env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    """One role, as xen-create-image runs it (`runCommand(file . " " . mountpoint)`), output to log."""
    with open(log, "a") as out:
        out.write(f"\n==== role {name}\n")
        out.flush()
        return subprocess.run([str(roles_dir / name), str(root)], env={**os.environ, **env, "verbose": "1"},
                              stdout=out, stderr=subprocess.STDOUT, timeout=1800)


def chroot(root: Path, *argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, **kw)


def installed(root: Path, package: str) -> bool:
    r = chroot(root, "dpkg-query", "-W", "-f=${Status}", package)
    return r.stdout == "install ok installed"
