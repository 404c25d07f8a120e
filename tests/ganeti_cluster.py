"""A real Ganeti cluster for the tests: Debian's ganeti 3.0.2 as a *virtual cluster* (Ganeti's
own mode for several nodes on one machine: GANETI_ROOTDIR/GANETI_HOSTNAME per node) with the
`fake` hypervisor — no Xen runs here, and the fake hypervisor is the STAND-IN Ganeti itself
ships for that.

* The root is the cached chroot from tests/tools/make-ganeti-chroot, used through an overlay
  mount (the cache is never written).
* Its daemons run in a PID namespace of their own (they all end with it) and the tests' mount
  namespace; the network is the tests' own namespace: a bridge `gntbr0` with documentation
  addresses only — nodes 192.0.2.10-13 (node1..node4), the cluster address 192.0.2.1 (on `lo`,
  put there by Ganeti's master-ip-setup), the bridge 192.0.2.254.
* Two node groups of two nodes (hail wants N+1): `hosting` (node1, node2) and `backup` (node3,
  node4); two networks, `hosting-net` 198.51.100.0/24 and `backup-net` 203.0.113.0/24, each
  connected to its group; `file` and `diskless` disk templates.
* RAPI on node1 (192.0.2.10:5080, TLS with the cluster's own certificate) with a user `xenpair`
  that may write.
"""

from __future__ import annotations

import secrets
import shlex
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

NODES = {"node1": "192.0.2.10", "node2": "192.0.2.11", "node3": "192.0.2.12", "node4": "192.0.2.13"}
CLUSTER_IP, BRIDGE, BRIDGE_IP = "192.0.2.1", "gntbr0", "192.0.2.254"
# the networks' gateways on the bridge too: the tests (xenpair wait) reach guests booted by BootStandIn
GROUPS = {"hosting": ["node1", "node2"], "backup": ["node3", "node4"]}
NETWORKS = {"hosting-net": ("198.51.100.0/24", "198.51.100.1", "hosting"),
            "backup-net": ("203.0.113.0/24", "203.0.113.1", "backup")}
VCLUSTER = "/srv/vcluster"
# instance policy bounds small enough for test instances (vcluster-setup's suggestion)
BOUNDS = ("min:disk-size=0,cpu-count=1,disk-count=0,memory-size=1,nic-count=0,spindle-use=0"
          "/max:disk-size=1048576,cpu-count=8,disk-count=16,memory-size=32768,nic-count=8,spindle-use=12")

SETUP = r"""#!/bin/bash
# runs inside the chroot, PID 1 of the cluster's PID namespace
set -eu
exec >/xenpair-cluster.log 2>&1
set -x
cat >/etc/hosts <<HOSTS
127.0.0.1 localhost
{hosts}
HOSTS
mkdir -p /run/sshd /root/.ssh
ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
cp /root/.ssh/id_ed25519.pub /root/.ssh/authorized_keys
ssh-keygen -A
/usr/sbin/sshd {listen}
mkdir -p {vc}
/usr/lib/ganeti/tools/vcluster-setup -E -N -c {count} -p 192.0.2 {vc}
cd {vc}
for n in {nodes}; do
  echo /srv/ganeti/file-storage >$n/etc/ganeti/file-storage-paths
  mkdir -p $n/srv/ganeti/file-storage $n/srv/ganeti/os
done
node1/cmd gnt-cluster init --no-etc-hosts --no-ssh-init --master-netdev=lo \
  --enabled-disk-templates=file,diskless --enabled-hypervisors=fake \
  --file-storage-dir=/srv/ganeti/file-storage \
  --ipolicy-bounds-specs={bounds} \
  cluster
for n in {others}; do node1/cmd gnt-node add --no-ssh-key-check $n; done
# every virtual node reports this machine's few CPUs: room for a few dozen small test instances
node1/cmd gnt-cluster modify --ipolicy-vcpu-ratio=64
{groups}
{networks}
mkdir -p node1/var/lib/ganeti/rapi
printf 'xenpair %s write\n' "$(cat /xenpair-rapi-password)" >node1/var/lib/ganeti/rapi/users
touch /xenpair-cluster-ready
exec sleep infinity
"""


@dataclass
class Cluster:
    chroot: Path                 # the cached root (read only)
    work: Path
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    proc: subprocess.Popen | None = None

    @property
    def root(self) -> Path:
        return self.work / "root"

    @property
    def rapi_url(self) -> str:
        return f"https://{NODES['node1']}:5080"

    @property
    def rapi_cert(self) -> Path:
        return self.root / VCLUSTER.lstrip("/") / "node1/var/lib/ganeti/rapi.pem"

    def node_dir(self, node: str) -> Path:
        return self.root / VCLUSTER.lstrip("/") / node

    def start(self, binds: dict[Path, str] | None = None, timeout: float = 180) -> Cluster:
        """BINDS: file on this machine -> path inside the root, bind-mounted read-only for the nodes."""
        for d in ("up", "ovl", "root"):
            (self.work / d).mkdir(parents=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={self.chroot},upperdir={self.work / 'up'},workdir={self.work / 'ovl'}",
                        str(self.root)], check=True)
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{BRIDGE_IP}/24", "dev", BRIDGE)
        for address in NODES.values():
            _ip("addr", "add", f"{address}/32", "dev", BRIDGE)
        for net, gateway, _ in NETWORKS.values():
            _ip("addr", "add", f"{gateway}/{net.split('/')[1]}", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        _ip("link", "set", "lo", "up")
        script = SETUP.format(
            hosts="\n".join([f"{CLUSTER_IP} cluster"] + [f"{a} {n}" for n, a in NODES.items()]),
            listen=" ".join(f"-o ListenAddress={a}" for a in NODES.values()), vc=VCLUSTER, count=len(NODES),
            nodes=" ".join(NODES), others=" ".join(list(NODES)[1:]), bounds=BOUNDS,
            groups="\n".join(f"node1/cmd gnt-group add {g}\nnode1/cmd gnt-group assign-nodes {g} {' '.join(ns)}"
                             for g, ns in GROUPS.items()),
            networks="\n".join(f"node1/cmd gnt-network add --network={net} --gateway={gw} {name}\n"
                               f"node1/cmd gnt-network connect --nic-parameters=mode=bridged,link={BRIDGE} "
                               f"{name} {group}" for name, (net, gw, group) in NETWORKS.items()))
        (self.root / "xenpair-cluster-setup").write_text(script)
        (self.root / "xenpair-cluster-setup").chmod(0o755)
        (self.root / "xenpair-rapi-password").write_text(self.password)
        # its own PID namespace (every daemon ends with it: --kill-child) and its own mounts of
        # /proc, /dev, /sys inside the root
        mounts = ""
        for src, dst in (binds or {}).items():
            target = self.root / dst.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
            mounts += f"mount --bind -o ro {shlex.quote(str(src))} {shlex.quote(str(target))}; "
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-eu", "-c",
             'mount --make-rprivate /; mount -t proc proc "$1/proc"; mount --bind /dev "$1/dev"; '
             f'mount -t sysfs sys "$1/sys"; {mounts}exec chroot "$1" /xenpair-cluster-setup', "sh", str(self.root)],
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not (self.root / "xenpair-cluster-ready").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "xenpair-cluster.log").read_text(errors="replace")[-4000:]
                self.stop()
                raise RuntimeError(f"the Ganeti test cluster did not come up:\n{log}")
            time.sleep(0.5)
        return self

    def gnt(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """A gnt-* command on the master, inside the cluster's namespaces and root."""
        inner = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()[0]
        r = subprocess.run(["nsenter", "--target", inner, "--mount", "--pid", "--",
                            "chroot", str(self.root), f"{VCLUSTER}/node1/cmd", shlex.join(argv)],
                           capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {r.stderr}")
        return r

    def install_os(self) -> Path:
        """xenpair's OS definition on the nodes (the root is every virtual node's), written by
        `xenpair ganeti install-os` as an admin does on each node."""
        from tests.conftest import XENPAIR

        os_dir = self.root / "srv/ganeti/os/xenpair"
        r = subprocess.run(XENPAIR + ["ganeti", "install-os", str(os_dir)], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"xenpair ganeti install-os: {r.stderr}")
        return os_dir

    def site_config(self, root: Path, image: str, tier_disk_gb: int = 2, mail_port: int | None = None,
                    **ganeti) -> Path:
        """A xenpair site config with `backend: ganeti` for this cluster (package tier `small`),
        its credentials file, the registry and known_hosts under ROOT, external IPs on the
        cluster's bridge (192.0.2.0/24), the summary mail to MAIL_PORT on 127.0.0.1 if given;
        GANETI: keys of the ganeti: section."""
        import yaml

        creds = root / "rapi-credentials"
        creds.write_text(f"xenpair:{self.password}\n")
        creds.chmod(0o600)
        packages = root / "packages.yaml"
        packages.write_text(yaml.safe_dump({"small": {
            "hosting": {"ram_mb": 256, "vcpus": 1, "disk_gb": tier_disk_gb},
            "backup": {"ram_mb": 128, "vcpus": 1, "disk_gb": tier_disk_gb}}}))
        config = {"backend": "ganeti", "log_dir": str(root / "logs"), "packages_file": str(packages),
                  "registry": {"hosting": str(root / "h.csv"), "backup": str(root / "b.csv")},
                  "hosting": {"prefix": NETWORKS["hosting-net"][0], "domain": "hosting.example.de"},
                  "backup": {"prefix": NETWORKS["backup-net"][0], "domain": "backup.example.de", "host": "local"},
                  "ready": {"host_key_types": ["ed25519"], "known_hosts": str(root / "known_hosts")},
                  "external": {"bridge": BRIDGE, "netmask": "255.255.255.0", "gateway": BRIDGE_IP},
                  "ganeti": {"rapi": self.rapi_url, "rapi_certificate": str(self.rapi_cert),
                             "credentials_file": str(creds), "disk_template": "file", "image": image,
                             "hosting": {"group": "hosting", "network": "hosting-net"},
                             "backup": {"group": "backup", "network": "backup-net"}, **ganeti}}
        if mail_port:
            config["mail"] = {"to": "root@hosting.example.de", "from": "xenpair@test.example.de", "transport": "smtp",
                              "smtp": {"host": "127.0.0.1", "port": mail_port}}
        path = root / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def fake_running(self) -> dict[str, str]:
        """Instance name -> node, for what the fake hypervisor marks as running (a file per instance
        in each node's run folder)."""
        out = {}
        for node in NODES:
            d = self.node_dir(node) / "var/run/ganeti/fake-hypervisor"
            for f in d.glob("*") if d.is_dir() else ():
                out[f.name] = node
        return out

    def instance_config(self, name: str) -> dict:
        """The instance's entry in the master's configuration (config.data, JSON)."""
        import json

        data = json.loads((self.node_dir("node1") / "var/lib/ganeti/config.data").read_text())
        return next(i for i in data["instances"].values() if i["name"] == name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()                  # unshare --kill-child: the whole PID namespace goes
            self.proc.wait()
        subprocess.run(["ip", "link", "del", BRIDGE], check=False, capture_output=True)
        log = self.root / "xenpair-cluster.log"
        if log.exists():                      # kept for a look; the instances' disks are GBs
            shutil.copy(log, self.work / "cluster.log")
        subprocess.run(["umount", "-l", str(self.root)], check=False, capture_output=True)
        for d in ("up", "ovl", "root"):
            shutil.rmtree(self.work / d, ignore_errors=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


QEMU_XL = Path(__file__).resolve().parent / "tools" / "qemu-xl"


class BootStandIn:
    """STAND-IN for Xen under Ganeti's fake hypervisor, which only marks an instance running: a
    thread that boots each instance the fake hypervisor starts under QEMU (tests/tools/qemu-xl
    boot: its file disk — what xenpair's OS definition installed —, its memory, vCPUs, NICs with
    their MACs on the cluster's bridge) and stops it when Ganeti stops it. The guest's network is
    the one its NICs get on Xen; the tests reach it through the gateways on the bridge."""

    def __init__(self, cluster: Cluster, state: Path, min_memory_mb: int = 384):
        self.cluster, self.state, self.min_memory = cluster, state, min_memory_mb
        self.booted: dict[str, str] = {}        # name -> node
        self.log: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BootStandIn:
        self.state.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for name in list(self.booted):
            self._xl("destroy", name)

    def console(self, name: str) -> str:
        f = self.state / f"{name}.console"
        return f.read_text(errors="replace") if f.exists() else ""

    def _xl(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["python3", str(QEMU_XL), "--state", str(self.state), *argv], capture_output=True,
                              text=True, timeout=120)

    def _run(self) -> None:
        try:
            self._watch()
        except Exception as e:             # seen in the test's failure message, not lost with the thread
            self.log.append(f"the boot stand-in stopped: {e!r}")

    def _watch(self) -> None:
        while not self._stop.wait(0.3):
            running = self.cluster.fake_running()
            for name in [n for n in self.booted if n not in running]:
                self._xl("destroy", name)
                self.log.append(f"stopped {name}")
                del self.booted[name]
            for name, node in running.items():
                if name not in self.booted:
                    self.booted[name] = node
                    self._boot(name)

    def _boot(self, name: str) -> None:
        inst = self.cluster.instance_config(name)
        disk = next((self.cluster.root / "srv/ganeti/file-storage" / name).glob("*disk0"))
        memory = max(int(inst.get("beparams", {}).get("maxmem", 0)), self.min_memory)
        vcpus = int(inst.get("beparams", {}).get("vcpus", 1))
        nics = [f"{BRIDGE},{nic['mac']}" for nic in inst["nics"]]
        r = self._xl("boot", name, str(disk), str(memory), str(vcpus), *nics)
        self.log.append(f"booted {name} ({r.returncode}): {r.stderr.strip()}")
