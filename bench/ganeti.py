#!/usr/bin/env python3
"""`backend: ganeti` on a real Ganeti 3.0.2 virtual cluster (fake hypervisor; tests/ganeti_cluster.py).

pair        `xenpair create small NAME --no-start --no-mail --yes` (the whole process: config,
            RAPI reads, the lowest common number, both creates, the registry record) against the
            same two instance creates submitted by hand through the RAPI at once and waited for
            (same bodies: xenpair's OS definition, the golden image, file disks of 2 GB);
            interleaved, each pair removed after its round. Goal: xenpair ≤ 1.1× by hand.
20 pairs    4 `xenpair create` processes at once, 5 pairs each, from a tiny root (the
            allocation and the races are measured, not the unpacking): how many succeed, whether
            any number is used twice, how many attempts were retried, the wall time.

Usage: python bench/ganeti.py [--rounds N] [--rootfs TAR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from tests import sandbox  # noqa: E402
from tests.ganeti_cluster import Cluster  # noqa: E402

IMAGE, TINY = "/var/lib/xenpair/images/bookworm/bench.tar", "/var/lib/xenpair/images/tiny/bench.tar"
XENPAIR = [sys.executable, "-m", "xenpair"]


def by_hand(cfg: Path, name: str) -> float:
    """The two creates xenpair would submit, sent straight to the RAPI at once."""
    from xenpair.adapters.ganeti_rapi import Rapi, read_credentials
    from xenpair.config import load_config
    from xenpair.core import ganeti
    from xenpair.core.ganeti_os import parameters

    config, _ = load_config(str(cfg))
    g = config.ganeti
    t = time.perf_counter()
    client = Rapi(g.rapi, Path(g.rapi_certificate), read_credentials(Path(g.credentials_file)))
    nets = {x["name"]: x for x in client.networks()}
    n = ganeti.free_in_both(nets[g.hosting.network], nets[g.backup.network])[0]
    jobs = []
    for kind in ("hosting", "backup"):
        fqdn = f"{name}.{getattr(config, kind).domain}"
        params, secret, _ = parameters(config, kind, fqdn, g.image)
        ip = str(getattr(config, kind).prefix.network_address + n)
        jobs.append(client.create_instance({
            "__version__": 1, "mode": "create", "name": fqdn, "disk_template": "file", "disks": [{"size": 2048}],
            "nics": [{"ip": ip, "network": getattr(g, kind).network}],
            "os": g.os, "osparams": params, "osparams_secret": secret, "group_name": getattr(g, kind).group,
            "beparams": {"maxmem": 256, "minmem": 256, "vcpus": 1}, "iallocator": "hail", "name_check": False,
            "ip_check": False, "start": False}))
    for job in jobs:
        assert client.wait(job)["status"] == "success"
    return time.perf_counter() - t


def documents(text: str) -> list[dict]:
    """The JSON results of several `--json` runs, one after the other in TEXT."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while i < len(text.rstrip()):
        while text[i].isspace():
            i += 1
        doc, i = decoder.raw_decode(text, i)
        out.append(doc)
    return out


def remove(cluster: Cluster, *names: str) -> None:
    for name in names:
        for domain in ("hosting.example.de", "backup.example.de"):
            cluster.gnt("gnt-instance", "remove", "-f", f"{name}.{domain}", check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rootfs", default=os.environ.get("XENPAIR_TEST_ROOTFS",
                                                      "/var/cache/xenpair-test/bookworm-rootfs.tar"))
    ap.add_argument("--chroot", default=os.environ.get("XENPAIR_TEST_GANETI_CHROOT",
                                                      "/var/cache/xenpair-test/ganeti-chroot"))
    args = ap.parse_args()
    sandbox.enter()
    tmp = Path(tempfile.mkdtemp(prefix="xenpair-bench-ganeti-"))
    tiny = sandbox.make_tiny_rootfs(tmp)
    cluster = Cluster(Path(args.chroot), tmp / "cluster")
    rounds: dict[str, list[float]] = {"xenpair": [], "by hand": []}
    try:
        cluster.start(binds={Path(args.rootfs): IMAGE, tiny: TINY})
        cluster.install_os()
        cluster.gnt("gnt-cluster", "add-tags", "htools:iextags:xenpair")
        (tmp / "site").mkdir()
        cfg = cluster.site_config(tmp / "site", IMAGE)
        for r in range(args.rounds):
            t = time.perf_counter()
            p = subprocess.run(XENPAIR + ["--config", str(cfg), "create", "small", f"x{r}", "--no-external-ip",
                                          "--no-start", "--no-mail", "--yes", "--json"], capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"xenpair create failed:\n{p.stderr[-3000:]}")
            rounds["xenpair"].append(time.perf_counter() - t)
            subprocess.run(XENPAIR + ["--config", str(cfg), "destroy", f"x{r}", "--yes"], check=True,
                           capture_output=True)
            rounds["by hand"].append(by_hand(cfg, f"h{r}"))
            remove(cluster, f"h{r}")
            print(f"round {r + 1}: xenpair {rounds['xenpair'][-1]:.1f} s, by hand {rounds['by hand'][-1]:.1f} s",
                  file=sys.stderr, flush=True)
        (tmp / "many").mkdir()
        many = cluster.site_config(tmp / "many", TINY, tier_disk_gb=1)
        t = time.perf_counter()
        procs = [subprocess.Popen(["sh", "-c", " ; ".join(
            " ".join(XENPAIR + ["--config", str(many), "create", "small", f"p{w}x{i}", "--no-external-ip",
                                "--no-start", "--no-mail", "--yes", "--json"]) for i in range(5))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(4)]
        outs = [p.communicate() for p in procs]
        wall = time.perf_counter() - t
        results = [r for out, _ in outs for r in documents(out)]
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        sandbox.leave()
    numbers = [r["n"] for r in results if r.get("ok")]
    for r in results:
        if not r.get("ok"):
            print(f"failed: {r['name']}: {r.get('stopped_at') or r.get('state')}", file=sys.stderr)
    for _, err in outs:
        for line in err.splitlines():
            if "error" in line.lower() and not line.startswith("["):
                print(f"failed: {line}", file=sys.stderr)
    retried = sum(len(r.get("attempts", [])) - 1 for r in results)
    x, h = statistics.median(rounds["xenpair"]), statistics.median(rounds["by hand"])
    print(f"# {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, {os.cpu_count()} cores, "
          f"Ganeti 3.0.2 virtual cluster (fake hypervisor), {args.rounds} rounds, median")
    print(f"pair, xenpair create:          {x:5.1f} s  {[round(v, 1) for v in rounds['xenpair']]}")
    print(f"pair, two RAPI creates by hand: {h:5.1f} s  {[round(v, 1) for v in rounds['by hand']]}")
    print(f"xenpair / by hand: {x / h:.2f}")
    print(f"20 pairs by 4 processes: {len(numbers)} created, {len(numbers) - len(set(numbers))} numbers used twice, "
          f"{retried} attempt(s) retried, wall {wall:.1f} s")


if __name__ == "__main__":
    main()
