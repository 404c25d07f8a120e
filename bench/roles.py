#!/usr/bin/env python3
"""What the site roles add to a build: each shipped role timed on the real debootstrapped root.

The guest root is prepared as xen-create-image leaves it for roles (tests/guestroot.py: the cached
bookworm rootfs unpacked, /proc and /dev mounted, xen-tools' own 20-setup-apt hook pointing apt
at the replaying proxy of tests/aptproxy.py), then the roles of a backup machine run one after
the other, as xen-create-image runs them, N rounds on fresh roots. Packages come from the answers
`make test` recorded (tests/tools/make-aptcache), so download time is not in the numbers. Runs as
root inside the tests' sandbox (private mount and network namespaces).

Usage: python bench/roles.py [--rounds N] [--rootfs TAR] [--apt STORE]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import guestroot, sandbox  # noqa: E402
from tests.aptproxy import AptProxy  # noqa: E402
from xenpair.adapters.hosts import LocalHost  # noqa: E402
from xenpair.config import Config  # noqa: E402
from xenpair.core import roles  # noqa: E402

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchOnlyBenchOnlyBenchOnlyBenchOnly00000 root@bench"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rootfs", default="/var/cache/xenpair-test/bookworm-rootfs.tar")
    ap.add_argument("--apt", default="/var/cache/xenpair-test/apt")
    args = ap.parse_args()
    if not (Path(args.apt) / ".complete").is_file():
        sys.exit(f"no recorded apt answers in {args.apt}: run 'make test' once")
    cfg = Config.model_validate({"roles": {"backup": ["base", "monitoring", "backup-jail"], "backup_keys": [KEY]}})
    run = roles.for_machine(cfg, "backup", external_ip=False)
    times: dict[str, list[float]] = {name: [] for name in ("unpack + apt setup", *run.names)}
    sandbox.enter()
    try:
        with AptProxy(Path(args.apt)) as proxy, tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
            base = Path(tmp)
            roles.sync(LocalHost(), str(base / "roles"))
            for i in range(args.rounds):
                root, log = base / f"root{i}", base / f"roles{i}.log"
                t = time.perf_counter()
                guestroot.unpack(Path(args.rootfs), root)
                try:
                    guestroot.setup_apt(root, proxy, log)
                    times["unpack + apt setup"].append(time.perf_counter() - t)
                    env = dict(run.env, hostname="bench.backup.example.de", ip1="192.168.30.250")
                    for name in run.names:
                        t = time.perf_counter()
                        r = guestroot.run_role(base / "roles", name, root, env, log)
                        times[name].append(time.perf_counter() - t)
                        if r.returncode != 0:
                            sys.exit(f"role {name} failed:\n{log.read_text()[-2000:]}")
                finally:
                    guestroot.release(root)
            if proxy.misses:
                sys.exit(f"apt asked for what was not recorded: {proxy.misses[:3]}")
    finally:
        sandbox.leave()
    print(f"# {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, {platform.machine()}, "
          f"{args.rounds} rounds, median (min-max) wall seconds, packages from the local replaying proxy")
    for name, values in times.items():
        print(f"{name:20s} {statistics.median(values):6.1f} s  ({min(values):.1f}-{max(values):.1f})")
    total = sum(statistics.median(v) for k, v in times.items() if k in run.names)
    print(f"{'all roles':20s} {total:6.1f} s")


if __name__ == "__main__":
    main()
