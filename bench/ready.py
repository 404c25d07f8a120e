#!/usr/bin/env python3
"""From `xenpair create --start --wait` to both machines ready: build, boot, wait.

One pair per round, built from the cached debootstrapped root with all real hooks (no site
roles), the backup machine over SSH (a real sshd on 127.0.0.1, as in the tests), both booted
under QEMU by tests/tools/qemu-xl — the STAND-IN for Xen, which cannot run here; software
emulation (TCG), so the boot part is QEMU's much more than the guest's. Inside a private mount
and network namespace, bridges with documentation-range addresses (tests/bootnet.py).

The split, per machine: build = xen-create-image (xenpair's build time), boot = from the start
to the first line of the guest's serial console saying its sshd started (watched as it is
written), wait = from there to xenpair's verified host key; ready = start to ready as xenpair
reports it.

Usage: python bench/ready.py [--rounds N] [--rootfs TAR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import bootnet, sandbox  # noqa: E402  (the tests' namespace and boot helpers)
from tests.sshd import Sshd  # noqa: E402

SSHD_UP = re.compile(r"Started ssh\.service|Started OpenBSD Secure Shell")
ANSI = re.compile(r"\x1b\[[0-9;]*m")            # systemd colours the unit names on the console


def site(root: Path, rootfs: Path, sshd: Sshd) -> Path:
    (root / "xen").mkdir(parents=True)
    (root / "img").mkdir()
    (root / "packages.yaml").write_text("{}\n")
    config = {
        "packages_file": str(root / "packages.yaml"), "log_dir": str(root / "logs"), "roles_dir": str(root / "roles"),
        "registry": {"hosting": str(root / "h.csv"), "backup": str(root / "b.csv")},
        "hosting": {}, "backup": {"host": f"root@127.0.0.1:{sshd.port}",
                                  "ssh": {"key_file": str(sshd.client_key), "known_hosts": str(sshd.known_hosts)}},
        "xen_create_image": {"dist": "bookworm", "storage": {"dir": str(root / "img")}, "cfg_dir": str(root / "xen"),
                             "extra_args": ["--install-method=tar", f"--install-source={rootfs}", "--nohosts",
                                            "--cache=no", "--mirror=http://127.0.0.1:9/debian"]}}
    bootnet.boot_config(config, root / "qemu", timeout=900)
    cfg = root / "config.yaml"
    cfg.write_text(json.dumps(config))
    return cfg


def watch_consoles(state: Path, names: list[str], seen: dict[str, float], stop: threading.Event) -> None:
    """Wall time at which each guest's console first says sshd started."""
    while not stop.is_set():
        for name in names:
            f = state / f"{name}.console"
            if name not in seen and f.exists() and SSHD_UP.search(ANSI.sub("", f.read_text(errors="replace"))):
                seen[name] = time.time()
        time.sleep(0.1)


def one_round(tmp: Path, rootfs: Path, sshd: Sshd, r: int) -> dict:
    root = tmp / f"r{r}"
    cfg = site(root, rootfs, sshd)
    name = f"rd{r}"
    fqdns = {"hosting": f"{name}.hosting.example.de", "backup": f"{name}.backup.example.de"}
    seen: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_consoles, args=(root / "qemu", list(fqdns.values()), seen, stop))
    watcher.start()
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "xenpair", "--config", str(cfg), "create", "boot", name,
                            "--no-external-ip", "--yes", "--no-mail", "--wait", "--json"],
                           capture_output=True, text=True)
        total = time.perf_counter() - t0
    finally:
        stop.set()
        watcher.join()
        bootnet.stop_guests(root / "qemu")
    if p.returncode != 0:
        sys.exit(f"round {r + 1} failed:\n{p.stderr[-3000:]}\n{bootnet.console_tail(root / 'qemu')}")
    res = json.loads(p.stdout)
    out = {"total": total}
    for kind, fqdn in fqdns.items():
        ready = res["ready"][kind]
        started = json.loads((Path(str(cfg.parent / ('h.csv' if kind == 'hosting' else 'b.csv')) + ".machines.json"))
                             .read_text())["machines"][fqdn]["started"]
        start = datetime.fromisoformat(started).timestamp()
        boot = seen.get(fqdn, float("nan")) - start
        out[kind] = {"build": res[kind]["elapsed_s"], "ready": ready["ready_after_s"], "boot": boot,
                     "wait": ready["ready_after_s"] - boot}
    shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rootfs", default=os.environ.get("XENPAIR_TEST_ROOTFS",
                                                      "/var/cache/xenpair-test/bookworm-rootfs.tar"))
    args = ap.parse_args()
    sandbox.enter()
    tmp = Path(tempfile.mkdtemp(prefix="xenpair-bench-"))
    sshd = Sshd(tmp / "sshd")
    rounds = []
    try:
        with bootnet.bridges():
            for r in range(args.rounds):
                rounds.append(one_round(tmp, Path(args.rootfs), sshd, r))
                x = rounds[-1]
                print(f"round {r + 1}: total {x['total']:.1f} s; " + "; ".join(
                    f"{k} build {x[k]['build']:.1f} boot {x[k]['boot']:.1f} wait {x[k]['wait']:.1f}"
                    for k in ("hosting", "backup")), file=sys.stderr, flush=True)
    finally:
        sshd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        sandbox.leave()

    def med(kind: str | None, part: str = "total") -> float:
        return statistics.median((x[kind][part] if kind else x[part]) for x in rounds)

    print(f"# {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, {os.cpu_count()} cores, "
          f"{Path(args.rootfs).name}, backup over SSH, guests under QEMU TCG, {args.rounds} rounds, median s")
    print(f"create --start --wait, command to both ready: {med(None):6.1f}")
    for kind in ("hosting", "backup"):
        print(f"{kind:8s} build {med(kind, 'build'):5.1f}  start->sshd up (boot) {med(kind, 'boot'):5.1f}  "
              f"sshd up->verified (wait) {med(kind, 'wait'):4.1f}  start->ready {med(kind, 'ready'):5.1f}")


if __name__ == "__main__":
    main()
