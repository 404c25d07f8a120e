"""Making a golden image's root file system on this dom0: debootstrap, apt in a chroot, tar.

Both scripts run in a private mount namespace (`unshare --mount`): /proc and /dev (and
debootstrap's own mounts) exist only there and vanish with the script, however it ends — a
failed, killed or interrupted build leaves no mount on the dom0. A policy-rc.d keeps package
scripts from starting daemons (sshd) in the chroot.

What a guest needs beyond debootstrap's minimal base is what xen-tools' debian.d hooks would
otherwise install with apt on every build: openssh-server (70-install-ssh), a kernel and
initramfs (80-install-kernel), grub-legacy (82-install-grub-legacy, for pygrub), locales and
util-linux-locales (95-configure-locales), ifupdown (40-setup-networking). What must differ per
guest is removed: SSH host keys and machine-id (each guest gets its own from xenpair-identity).
apt's lists stay: 20-setup-apt replaces them with `apt-get update` when the mirror answers, and
when it does not, 80-install-kernel still asks `apt-cache show` (verified on 4.9.2).

The image's packages are upgraded from DIST-updates and DIST-security, so its guests need those
sources too, or apt cannot install anything that depends on an upgraded package (seen: perl
needs perl-base of the very same version). 20-setup-apt rewrites /etc/apt/sources.list only (and
4.9's security line is commented out on a dom0 whose sources are deb822 files), so they live in
/etc/apt/sources.list.d/xenpair.list, which it leaves alone.
"""

from __future__ import annotations

import hashlib
import os
import subprocess

from xenpair.adapters.hosts import LineHandler, RunResult

INCLUDE = ("openssh-server", "grub-legacy", "locales", "util-linux-locales", "ifupdown", "initramfs-tools")

SOURCES_D = "/etc/apt/sources.list.d/xenpair.list"
# $1 root, $2 build|refresh, $3 dist, $4 mirror, $5 debootstrap's --include, $6 kernel package,
# $7 the image's sources.list, $8 its sources.list.d/xenpair.list (build only)
_SCRIPT = r"""set -eu
root=$1
if [ "$2" = build ]; then
  echo "xenpair: debootstrap $3 from $4"
  debootstrap --include="$5" "$3" "$root" "$4"     # $3 is a checked dist name: no option
  printf '%s' "$7" >"$root/etc/apt/sources.list"
  printf '%s' "$8" >"$root/etc/apt/sources.list.d/xenpair.list"     # SOURCES_D
fi
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
# the name servers of this dom0 for apt, inside this namespace only (never through a symlink)
if [ -f /etc/resolv.conf ] && [ ! -L "$root/etc/resolv.conf" ] && [ -f "$root/etc/resolv.conf" ]; then
  mount --bind -o ro /etc/resolv.conf "$root/etc/resolv.conf"
fi
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/boot/grub"                 # the kernel's postinst runs grub-legacy's update-grub
export DEBIAN_FRONTEND=noninteractive
apt() { chroot "$root" apt-get -q -y -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "$@"; }
echo "xenpair: apt-get update"
chroot "$root" apt-get -q --error-on=any update      # a source that fails is an error, not "current"
echo "xenpair: apt-get upgrade --with-new-pkgs"
apt upgrade --with-new-pkgs
echo "xenpair: the guest kernel ($6)"
apt install --no-install-recommends "$6"
apt clean
rm -f "$root/usr/sbin/policy-rc.d" "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
echo "xenpair: root ready"
"""


def arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def kernel_package(architecture: str) -> str:
    return {"amd64": "linux-image-amd64", "arm64": "linux-image-arm64", "i386": "linux-image-686-pae"}.get(
        architecture, f"linux-image-{architecture}")


def sources_lists(dist: str, mirror: str, security: str | None) -> tuple[str, str]:
    """The image's /etc/apt/sources.list and sources.list.d/xenpair.list."""
    extra = [f"# written by xenpair image build: {dist}'s updates for guests built from this image",
             f"deb {mirror} {dist}-updates main"] + ([f"deb {security} {dist}-security main"] if security else [])
    return f"deb {mirror} {dist} main\n", "\n".join(extra) + "\n"


def make_root(host, root: str, mode: str, dist: str, mirror: str, sources: tuple[str, str],
              proxy: str | None, on_line: LineHandler, timeout: float) -> RunResult:
    """debootstrap DIST into ROOT (mode build) or upgrade the root that is there (mode refresh)."""
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _SCRIPT, "sh", root, mode,
            dist, mirror, ",".join(INCLUDE), kernel_package(arch()), *sources]
    if proxy:            # debootstrap's wget and apt both read http_proxy
        argv = ["env", f"http_proxy={proxy}", f"https_proxy={proxy}"] + argv
    return host.run(argv, timeout=timeout, on_line=on_line)


def packages(root: str) -> dict[str, str]:
    """The installed packages of ROOT and their versions, from its own dpkg database."""
    r = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W",
                        "-f", "${db:Status-Abbrev} ${binary:Package} ${Version}\n"],
                       capture_output=True, text=True, check=True)
    out = {}
    for line in r.stdout.splitlines():
        status, name, version = line.split()
        if status == "ii":
            out[name] = version
    return out


def pack(host, root: str, tar: str) -> tuple[int, str]:
    """tar ROOT into TAR (as xen-tools' tar install method unpacks it); return its size and sha256."""
    r = host.run(["tar", "-C", root, "--numeric-owner", "-cf", tar, "."])
    if r.returncode != 0:
        raise OSError(r.returncode, f"tar failed: {r.stderr.strip()[-300:]}", tar)
    return digest(tar)


def unpack(host, tar: str, root: str) -> None:
    os.makedirs(root, mode=0o755)
    r = host.run(["tar", "-C", root, "--numeric-owner", "-xf", tar])
    if r.returncode != 0:
        raise OSError(r.returncode, f"tar failed: {r.stderr.strip()[-300:]}", tar)


def digest(path: str) -> tuple[int, str]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        size = 0
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()
