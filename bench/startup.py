#!/usr/bin/env python3
"""Start-up cost: `xenpair --help` and `xenpair list` (1,000 pairs) against a minimal Typer app.

The floor is a one-command Typer app that prints one line (same typer, same interpreter, same
machine, same run). Calls are interleaved, so load on this shared machine hits both alike;
the ratio of medians is the number to read. Usage: python bench/startup.py [--runs N]
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

MINIMAL = '''import typer
app = typer.Typer()
@app.command()
def main():
    """Print one line."""
    print("hello")
app()
'''
# the same app leaving as xenpair does (flush, os._exit): the like-for-like floor, no teardown
MINIMAL_EXIT = MINIMAL.replace("app()", """import os, sys
try:
    app()
except SystemExit as e:
    code = e.code or 0
sys.stdout.flush()
os._exit(code)""")


def registry(d: Path, pairs: int) -> Path:
    h = ["IP;Name;Package;external IP;Date created;State", "10.20.0.1;Hosting;Xen-Host"]
    b = ["IP;Name;Package;Date created;State"]
    for n in range(2, pairs + 2):
        ip_h, ip_b = f"10.20.{n // 256}.{n % 256}", f"10.30.{n // 256}.{n % 256}"
        h.append(f"{ip_h};c{n}.hosting.example.de;package1;;2026-11-27T10:00:00+01:00;created")
        b.append(f"{ip_b};c{n}.backup.example.de;package1;2026-11-27T10:00:00+01:00;created")
    (d / "h.csv").write_text("\n".join(h) + "\n")
    (d / "b.csv").write_text("\n".join(b) + "\n")
    cfg = d / "config.yaml"
    cfg.write_text(f"registry: {{hosting: {d}/h.csv, backup: {d}/b.csv}}\n"
                   "hosting: {prefix: 10.20.0.0/16}\nbackup: {prefix: 10.30.0.0/16}\n")
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=31)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "minimal.py").write_text(MINIMAL)
        (d / "minimal_exit.py").write_text(MINIMAL_EXIT)
        cfg = registry(d, 1000)
        # a config written less than 2 s ago is not cached (docs/configuration.md); people's is older
        time.sleep(2.1)
        env = dict(os.environ, XDG_CACHE_HOME=str(d / "cache"))     # not the caller's ~/.cache
        # as installed: with up-to-date .pyc files (the warm-up call below writes any missing)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        py = sys.executable
        # the console script people run, beside this interpreter (same venv, same typer)
        xenpair = str(Path(sys.executable).with_name("xenpair"))
        cases = {
            "minimal --help": [py, str(d / "minimal.py"), "--help"],
            "xenpair --help": [xenpair, "--help"],
            "minimal (one line)": [py, str(d / "minimal.py")],
            "xenpair list (1,000 pairs)": [xenpair, "--config", str(cfg), "list"],
            "minimal, os._exit": [py, str(d / "minimal_exit.py")],
            "minimal --help, os._exit": [py, str(d / "minimal_exit.py"), "--help"],
        }
        out = subprocess.run(cases["xenpair list (1,000 pairs)"], capture_output=True, text=True, env=env)
        assert out.returncode == 0 and len(out.stdout.splitlines()) == 1001, out.stderr
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                t = time.perf_counter()
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
                times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"# {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, {platform.machine()}, "
          f"Python {platform.python_version()}, {args.runs} interleaved runs each, median wall ms")
    for k, v in med.items():
        print(f"{k:28s} {v:7.1f} ms")
    print(f"ratio --help: {med['xenpair --help'] / med['minimal --help']:.2f}  (limit 1.30)")
    print(f"ratio list:   {med['xenpair list (1,000 pairs)'] / med['minimal (one line)']:.2f}  (limit 1.30)")
    print("like for like, the minimal app also leaving with os._exit: "
          f"--help {med['xenpair --help'] / med['minimal --help, os._exit']:.2f}, "
          f"list {med['xenpair list (1,000 pairs)'] / med['minimal, os._exit']:.2f}")


if __name__ == "__main__":
    main()
