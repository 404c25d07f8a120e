#!/usr/bin/env python3
"""Pair wall time: `xenpair create` against the same two xen-create-image runs done by hand.

Three ways to build the same pair (same argv, taken from `xenpair create --dry-run --json`):
  together    both xen-create-image runs started at once by hand (the limit: xenpair <= 1.15x)
  sequential  one after the other, as the old wrapper did
  xenpair     `xenpair create --yes` (start-up, registry lock and rows, both builds, summaries)
Rounds are interleaved so machine load hits all three alike. Runs as root inside a private mount
namespace (like the tests): the real xen-create-image, the cached debootstrapped rootfs with all
real hooks, dir storage in a temp dir, nothing outside it touched.

With --ssh the backup machine is built on a backup dom0 reached over SSH: a real sshd on
127.0.0.1 (tests/sshd.py); "by hand" then means the local run plus `ssh root@… xen-create-image …`
with OpenSSH's client, started together.

Usage: python bench/pair.py [--rounds N] [--rootfs TAR] [--tiny] [--ssh]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import sandbox  # noqa: E402  (the tests' namespace helper: same isolation here)
from tests.sshd import Sshd  # noqa: E402

PACKAGES = "bench:\n  hosting: {ram_mb: 512, vcpus: 2, disk_gb: 2}\n  backup: {ram_mb: 256, vcpus: 1, disk_gb: 2}\n"


def site(root: Path, rootfs: Path, dist: str, sshd: Sshd | None) -> Path:
    (root / "xen").mkdir(parents=True)
    (root / "img").mkdir()
    (root / "packages.yaml").write_text(PACKAGES)
    cfg = root / "config.yaml"
    backup = {"host": f"root@127.0.0.1:{sshd.port}",
              "ssh": {"key_file": str(sshd.client_key), "known_hosts": str(sshd.known_hosts)}} if sshd else {}
    cfg.write_text(json.dumps({     # JSON is YAML
        "backup": backup,
        "packages_file": str(root / "packages.yaml"), "log_dir": str(root / "logs"), "roles_dir": str(root / "roles"),
        "registry": {"hosting": str(root / "h.csv"), "backup": str(root / "b.csv")},
        "xen_create_image": {"dist": dist, "storage": {"dir": str(root / "img")}, "cfg_dir": str(root / "xen"),
                             "extra_args": ["--install-method=tar", f"--install-source={rootfs}", "--nohosts",
                                            "--cache=no", "--mirror=http://127.0.0.1:9/debian"]}}))
    return cfg


def xenpair(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xenpair", "--config", str(cfg), *args],
                          capture_output=True, text=True, check=True)


def argvs(cfg: Path, name: str, sshd: Sshd | None) -> list[list[str]]:
    """The two commands as xenpair plans them; the backup one through OpenSSH's client with --ssh."""
    plan = json.loads(xenpair(cfg, "create", "bench", name, "--dry-run", "--json").stdout)["plan"]
    cmds = next(s["commands"] for s in plan["steps"] if "commands" in s)
    # the argv names xenpair's role scripts (xenpair-identity runs in every build): put them in
    # place as `create` does, so the runs by hand do the same work
    xenpair(cfg, "roles", "sync")
    backup = cmds["backup"]["argv"]
    if sshd:
        backup = ["ssh", "-p", str(sshd.port), "-i", str(sshd.client_key), "-o",
                  f"UserKnownHostsFile={sshd.known_hosts}", "-o", "BatchMode=yes", "root@127.0.0.1",
                  shlex.join(backup)]
    return [cmds["hosting"]["argv"], backup]


def run_together(cmds: list[list[str]]) -> float:
    t = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
    assert [p.wait() for p in procs] == [0, 0]
    return time.perf_counter() - t


def run_sequential(cmds: list[list[str]]) -> float:
    t = time.perf_counter()
    for c in cmds:
        subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def run_xenpair(cfg: Path, name: str) -> float:
    # steady state, as on a site: the role scripts are on both dom0s already (create then only
    # compares them); each round's site is new, so sync them first, outside the timing
    xenpair(cfg, "roles", "sync")
    t = time.perf_counter()
    xenpair(cfg, "create", "bench", name, "--yes")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rootfs", default=os.environ.get("XENPAIR_TEST_ROOTFS",
                                                      "/var/cache/xenpair-test/bookworm-rootfs.tar"))
    ap.add_argument("--tiny", action="store_true", help="tiny hand-made rootfs, minimal hooks (seconds)")
    ap.add_argument("--ssh", action="store_true", help="build the backup machine over SSH (sshd on 127.0.0.1)")
    args = ap.parse_args()
    sandbox.enter()
    tmp = Path(tempfile.mkdtemp(prefix="xenpair-bench-"))
    sshd = Sshd(tmp / "sshd") if args.ssh else None
    try:
        rootfs, dist = (sandbox.make_tiny_rootfs(tmp), sandbox.TINY_DIST) if args.tiny else \
            (Path(args.rootfs), "bookworm")
        times: dict[str, list[float]] = {"together": [], "sequential": [], "xenpair": []}
        for r in range(args.rounds):
            for mode in times:
                root = tmp / f"{mode}{r}"
                cfg = site(root, rootfs, dist, sshd)
                name = f"b{r}"
                if mode == "xenpair":
                    times[mode].append(run_xenpair(cfg, name))
                else:
                    runner = run_together if mode == "together" else run_sequential
                    times[mode].append(runner(argvs(cfg, name, sshd)))
                shutil.rmtree(root / "img")          # keep the disk use of a long run small
                print(f"round {r + 1} {mode:10s} {times[mode][-1]:6.1f} s", file=sys.stderr, flush=True)
    finally:
        if sshd:
            sshd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        sandbox.leave()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"# {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, {os.cpu_count()} cores, "
          f"{'tiny rootfs' if args.tiny else Path(args.rootfs).name}, "
          f"backup {'over SSH' if args.ssh else 'local'}, {args.rounds} interleaved rounds, "
          "median wall s")
    for k, v in med.items():
        print(f"{k:12s} {v:6.1f} s   ({', '.join(f'{x:.1f}' for x in times[k])})")
    print(f"xenpair / together:   {med['xenpair'] / med['together']:.2f}  (limit 1.15)")
    print(f"xenpair / sequential: {med['xenpair'] / med['sequential']:.2f}")


if __name__ == "__main__":
    main()
