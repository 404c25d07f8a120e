"""A real OpenSSH sshd on 127.0.0.1 as the backup dom0 (own port, own host key, key auth only).

Started by the test process, so it lives in the tests' private mount namespace: commands it
runs (xen-create-image) see the same sandboxed /etc/xen, /var/log/xen-tools and /etc/hosts.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, even if it is killed (no teardown then)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# the backup dom0's own folders: bind mounts in sshd's own mount namespace, so what runs over SSH
# sees FOLDER where the hosting side (this process) sees another one at the same path
_BINDS = ('while [ "$1" != -- ]; do mount --bind "$1" "$2"; shift 2; done; shift; exec "$@"')


class Sshd:
    def __init__(self, root: Path, binds: dict[Path, str] | None = None):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.host_pub = _keygen(root / "host_ed25519", "test-backup-dom0")
        self.client_key = root / "client_ed25519"
        client_pub = _keygen(self.client_key, "xenpair-test")
        (root / "authorized_keys").write_text(client_pub + "\n")
        self.known_hosts = root / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {self.host_pub}\n")
        self.config = root / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_ed25519'}\nPidFile none\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "StrictModes no\nUsePAM no\nMaxSessions 50\nMaxStartups 50\n")
        os.makedirs("/run/sshd", exist_ok=True)           # privilege separation dir
        subprocess.run([SSHD, "-t", "-f", str(self.config)], check=True)
        self.log = open(root / "sshd.log", "w")           # noqa: SIM115 (closed in stop)
        argv = [SSHD, "-D", "-e", "-f", str(self.config)]
        if binds:
            pairs = [str(x) for src, dst in binds.items() for x in (src, dst)]
            argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _BINDS, "sh", *pairs,
                    "--", *argv]
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {(root / 'sshd.log').read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
