"""The test process's private mount and network namespaces: no test touches this machine's Xen
state, and no test traffic leaves 127.0.0.0/8.

Inside it, sandbox directories are bind-mounted over /etc/xen and /var/log/xen-tools, copies
over /etc/hosts, /etc/resolv.conf and /etc/shadow, and a copy of /usr/share/xen-tools that adds
one distribution, `xenpairtiny`, whose hooks are the real networking, hostname and fstab hooks
only (for fast builds from a tiny hand-made rootfs). `bookworm` keeps all the real hooks.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
SIOCSIFFLAGS, IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x8914, 0x1, 0x8, 0x40
MS_REC, MS_PRIVATE = 0x4000, 0x40000
COVERED = ("/etc/xen", "/var/log/xen-tools", "/etc/hosts")
# files covered by a copy of themselves: xen-create-image 4.9 has been seen to move the dom0's
# resolv.conf away (after a SIGINT), and the same path would write the dom0's /etc/shadow
COPIED = ("/etc/hosts", "/etc/resolv.conf", "/etc/shadow")
TINY_DIST = "xenpairtiny"
TINY_HOOKS = ("40-setup-networking", "50-setup-hostname", "90-make-fstab")


_CREATED: list[str] = []
_BOX: list[Path] = []


def enter(own_network: bool = True) -> Path:
    """Unshare the mount namespace of this (single-threaded) process and cover the real files.

    Returns the sandbox directory. Children (xenpair, xen-create-image, sshd) inherit it.
    own_network=False keeps this machine's network: only for bench/images.py, whose debootstrap
    runs must reach the Debian mirror (the tests never do).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    # A network namespace of its own, with only a loopback interface: no test, and nothing a
    # test starts (xen-create-image, a guest's apt, sshd), can reach beyond 127.0.0.0/8 even by
    # mistake.
    flags = CLONE_NEWNS | (CLONE_NEWNET if own_network else 0)
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS | CLONE_NEWNET) failed: the tests need root")
    if own_network:
        _loopback_up()
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "making / private failed")
    box = Path(tempfile.mkdtemp(prefix="xenpair-test-"))
    _BOX.append(box)
    for target in COVERED + COPIED[1:]:
        src = box / target.strip("/").replace("/", "_")
        if target in COPIED:
            if not os.path.exists(target):
                continue
            shutil.copy2(target, src)
            st = os.stat(target)
            os.chown(src, st.st_uid, st.st_gid)
        else:
            src.mkdir()
            if not os.path.isdir(target):
                os.makedirs(target)         # a mount point must exist; leave() removes it again
                _CREATED.append(target)
        _bind(src, target)
    share = box / "xen-tools-share"
    shutil.copytree("/usr/share/xen-tools", share, symlinks=True)
    (share / f"{TINY_DIST}.d").mkdir()
    for hook in TINY_HOOKS:
        os.symlink(f"../debian.d/{hook}", share / f"{TINY_DIST}.d" / hook)
    _bind(share, "/usr/share/xen-tools")
    return box


def _loopback_up() -> None:
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING))


def leave() -> None:
    """Remove the empty mount points enter() had to create on this machine, and the sandbox folder
    (its bind mounts live only in this process's namespace, which ends with it)."""
    for target in reversed(_CREATED):
        subprocess.run(["umount", "-l", target], check=False)
        try:
            os.rmdir(target)
        except OSError:
            pass
    for box in _BOX:
        shutil.rmtree(box, ignore_errors=True)


def _bind(src: Path | str, target: str) -> None:
    subprocess.run(["mount", "--bind", str(src), target], check=True)


def make_tiny_rootfs(dest: Path) -> Path:
    """A few files are enough for xen-create-image's tar install and its checks (bin/ls, etc/ssh)."""
    root = dest / "tiny-root"
    for d in ("bin", "sbin", "usr/bin", "etc/ssh", "etc/network", "root"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/ls", root / "bin/ls")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tiny",
                    "-f", str(root / "etc/ssh/ssh_host_ed25519_key")], check=True)
    tar = dest / "tiny-rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    return tar


def cleanup_leftovers(image_root: Path) -> None:
    """Unmount whatever a failed xen-create-image left mounted from images below image_root."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    for line in reversed(mounts):
        target = line.split()[1]
        if target.startswith("/tmp/") and len(Path(target).name) == 10 and "xenpair-test" not in target:
            subprocess.run(["umount", "-l", target], check=False)
            try:
                os.rmdir(target)              # xen-create-image's empty mount point, on the real /tmp
            except OSError:
                pass
    out = subprocess.run(["losetup", "-n", "-O", "NAME,BACK-FILE", "-l"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].startswith(str(image_root)):
            subprocess.run(["losetup", "-d", parts[0]], check=False)
