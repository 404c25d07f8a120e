#!/usr/bin/env python3
"""The CSV registry at scale: 60,000 pairs in two /16 prefixes, and 50 `xenpair create` at once.

Measures, on one generated registry (10.20.0.0/16 and 10.30.0.0/16: data only, no traffic):
  parse       reading and checking both files (every command does it; locked commands again)
  list        `xenpair list` as a whole process
  dry-run     `xenpair create PACKAGE NAME --dry-run` as a whole process
  locked      one locked read-modify-write (what a create holds the lock for, three times)
  50 at once  50 `xenpair create ... --yes --no-mail` started together: how many succeed, and
              the wall time until the last one ends
The builds in the 50-at-once round are a STAND-IN: `xen_create_image.command` is a script that
prints an Installation Summary and exits 0, so the round measures the registry and xenpair's
own work, not debootstrap. Runs as root (xenpair checks it before building).

Usage: python bench/registry.py [--pairs N] [--concurrent N]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from ipaddress import IPv4Network
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from xenpair.adapters.registry import Registry  # noqa: E402

H, B = IPv4Network("10.20.0.0/16"), IPv4Network("10.30.0.0/16")
FAKE_XCI = """#!/bin/sh
# STAND-IN for xen-create-image: this bench measures the registry, not the build
for a; do case "$a" in --hostname=*) h=${a#--hostname=};; esac; done
printf 'Installation Summary\\n---------------------\\nHostname        :  %s\\nRoot Password   :  x\\n\\n' "$h"
"""


def write_registry(d: Path, pairs: int) -> None:
    date = "2026-11-27T10:00:00+01:00"
    h = ["IP;Name;Package;external IP;Date created;State", f"{H.network_address + 1};Hosting;Xen-Host"]
    b = ["IP;Name;Package;Date created;State"]
    for n in range(2, pairs + 2):
        h.append(f"{H.network_address + n};c{n}.hosting.example.de;package1;;{date};created")
        b.append(f"{B.network_address + n};c{n}.backup.example.de;package1;{date};created")
    (d / "h.csv").write_text("\n".join(h) + "\n")
    (d / "b.csv").write_text("\n".join(b) + "\n")


def timed(argv: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=60_000)
    ap.add_argument("--concurrent", type=int, default=50)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (xenpair refuses to build otherwise)")
    d = Path(tempfile.mkdtemp(prefix="xenpair-bench-registry-"))
    try:
        write_registry(d, args.pairs)
        xci = d / "fake-xen-create-image"
        xci.write_text(FAKE_XCI)
        xci.chmod(0o755)
        for sub in ("xen", "images", "xen-tools-logs", "logs"):
            (d / sub).mkdir()
        (d / "c.yaml").write_text(
            f"registry: {{hosting: {d}/h.csv, backup: {d}/b.csv}}\nlog_dir: {d}/logs\n"
            "hosting: {prefix: 10.20.0.0/16}\nbackup: {prefix: 10.30.0.0/16}\n"
            f"xen_create_image: {{command: {xci}, storage: {{dir: {d}/images}}, cfg_dir: {d}/xen, "
            f"log_dir: {d}/xen-tools-logs}}\n")
        xenpair = [sys.executable, "-m", "xenpair", "--config", str(d / "c.yaml")]
        env = dict(os.environ, XDG_CACHE_HOME=str(d / "cache"))
        os.environ.update(env)
        reg = Registry(d / "h.csv", d / "b.csv", H, B)
        parse = statistics.median(_t(reg.read) for _ in range(5))

        def rmw() -> None:
            with reg.locked() as snap:
                row = snap.find("c100").hosting
                snap.mark(row, state="created")
        locked = statistics.median(_t(rmw) for _ in range(5))
        listing = timed(xenpair + ["list"])
        dry = timed(xenpair + ["create", "package1", "newpair", "--dry-run"])

        start = time.perf_counter()
        procs = [subprocess.Popen(xenpair + ["create", "package1", f"new{i}", "--yes", "--no-mail"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i in range(args.concurrent)]
        results = [(p.wait(), p.stderr.read()) for p in procs]
        wall = time.perf_counter() - start
        ok = sum(code == 0 for code, _ in results)
        failures = sorted({err.strip().splitlines()[0] for code, err in results if code != 0 and err.strip()})
        snap = reg.read()
        created = sum(1 for i in range(args.concurrent) if (p := snap.find(f"new{i}")) and p.state == "created")
        print(f"# registry bench, {datetime.now():%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}")
        print(f"pairs in the registry: {args.pairs}")
        print(f"parse both files:      {parse:.3f} s")
        print(f"locked read+write:     {locked:.3f} s")
        print(f"xenpair list:          {listing:.3f} s")
        print(f"create --dry-run:      {dry:.3f} s")
        print(f"{args.concurrent} creates at once:   {ok} succeeded, {created} pairs created, "
              f"{wall:.1f} s until the last ended")
        for f in failures:
            print(f"  failure: {f}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _t(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
