#!/usr/bin/env python3
"""Tab completion latency: what one <TAB> costs in bash (`_XENPAIR_COMPLETE=complete_bash
xenpair`), for a command name, a package name and a pair name with 1,000 pairs in the
registry, against `xenpair --version` (the same interpreter's start-up) — interleaved in one
run, medians compared. Usage: python bench/completion.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

XENPAIR = [sys.executable, "-m", "xenpair"]


def timed(env: dict) -> float:
    began = time.perf_counter()
    subprocess.run(XENPAIR if "COMP_WORDS" in env else XENPAIR + ["--version"], env=env, capture_output=True,
                   check=False)
    return time.perf_counter() - began


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    runs = ap.parse_args().runs
    with tempfile.TemporaryDirectory() as d:
        registry = Path(d) / "h.csv"
        registry.write_text("IP;Name;Package;external IP;Date created;State\n" + "".join(
            f"10.{n // 250}.{n % 250}.1;cust{n:04d}.hosting.example.de;package1;;2026-12-03T00:00:00+00:00;created\n"
            for n in range(1000)))
        config = Path(d) / "config.yaml"
        config.write_text(yaml.safe_dump({"registry": {"hosting": str(registry), "backup": str(Path(d) / "b.csv")}}))
        base = {**os.environ, "XENPAIR_CONFIG": str(config), "XDG_CACHE_HOME": str(Path(d) / "cache")}
        cases = {"xenpair --version": base}
        for label, words in (("command (xenpair cr<TAB>)", "xenpair cr"),
                             ("package (xenpair create pa<TAB>)", "xenpair create pa"),
                             ("pair of 1,000 (xenpair destroy cust01<TAB>)", "xenpair destroy cust01")):
            cases[label] = {**base, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1),
                            "_XENPAIR_COMPLETE": "complete_bash"}
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(3):
            for env in cases.values():
                timed(env)                                   # warm the caches
        for _ in range(runs):
            for label, env in cases.items():
                times[label].append(timed(env))
    floor = statistics.median(times["xenpair --version"])
    print(f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {runs} runs each, interleaved")
    for label, t in times.items():
        med = statistics.median(t)
        print(f"{label:<45} median {med * 1000:6.1f} ms  p90 {sorted(t)[int(len(t) * 0.9)] * 1000:6.1f} ms  "
              f"{med / floor:4.2f}x --version")


if __name__ == "__main__":
    main()
