#!/usr/bin/env python3
"""Golden images: a pair from an image against a pair with xen-tools' default install method
(debootstrap from the mirror), in one run; and what `image build` and `image refresh` take.

Order: image build (debootstrap here, tar, copy to the backup dom0 over SSH), then pairs
interleaved: from the image, with debootstrap, ... (--rounds of each), from the image once
more; then image refresh. Medians compared. The
backup dom0 is a real sshd on 127.0.0.1 whose mount namespace gives it its own images.dir (as a
second machine would have). Runs as root in a private mount namespace like the tests, but on this
machine's network: debootstrap and the guests' apt fetch from the Debian mirror (that is what is
measured), nothing else leaves the machine. Goal (issue 12): image pair at least 6x faster.

Usage: python bench/images.py [--mirror URL] [--rounds N]
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
from tests.sshd import Sshd  # noqa: E402
from xenpair.adapters.apt_sources import mirror_for  # noqa: E402

PACKAGES = "bench:\n  hosting: {ram_mb: 512, vcpus: 2, disk_gb: 2}\n  backup: {ram_mb: 256, vcpus: 1, disk_gb: 2}\n"


def site(root: Path, golden: Path, sshd: Sshd, mirror: str) -> Path:
    (root / "xen").mkdir(parents=True)
    (root / "img").mkdir()
    (root / "packages.yaml").write_text(PACKAGES)
    cfg = root / "config.yaml"
    cfg.write_text(json.dumps({     # JSON is YAML
        "backup": {"host": f"root@127.0.0.1:{sshd.port}",
                   "ssh": {"key_file": str(sshd.client_key), "known_hosts": str(sshd.known_hosts)}},
        "packages_file": str(root / "packages.yaml"), "log_dir": str(root / "logs"), "roles_dir": str(root / "roles"),
        "registry": {"hosting": str(root / "h.csv"), "backup": str(root / "b.csv")},
        "ready": {"known_hosts": None},
        "images": {"dir": str(golden), "mirror": mirror},
        "xen_create_image": {"dist": "bookworm", "storage": {"dir": str(root / "img")}, "cfg_dir": str(root / "xen"),
                             "extra_args": ["--nohosts", "--cache=no", f"--mirror={mirror}"]}}))
    return cfg


def xenpair(cfg: Path, *args: str) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "xenpair", "--config", str(cfg), *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"xenpair {' '.join(args)} failed:\n{r.stderr}")
    return time.perf_counter() - t, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", default=mirror_for("bookworm"), help="default: the one this machine's apt uses")
    ap.add_argument("--rounds", type=int, default=2, help="debootstrap pairs (image pairs: one more)")
    args = ap.parse_args()
    if not args.mirror:
        sys.exit("no 'deb' source for bookworm main in /etc/apt/sources.list*: give --mirror URL")
    sandbox.enter(own_network=False)
    tmp = Path(tempfile.mkdtemp(prefix="xenpair-bench-", dir="/var/tmp"))
    golden, backup_golden = tmp / "golden", tmp / "backup-golden"
    golden.mkdir(mode=0o700)
    backup_golden.mkdir(mode=0o700)
    sshd = Sshd(tmp / "sshd", binds={backup_golden: str(golden)})
    out: dict[str, float] = {}
    try:
        with_image = site(tmp / "with-image", golden, sshd, args.mirror)
        empty = tmp / "no-images"
        empty.mkdir(mode=0o700)
        without = site(tmp / "debootstrap", empty, sshd, args.mirror)
        out["image build"], text = xenpair(with_image, "image", "build", "--json")
        built = json.loads(text)
        for k, v in built["seconds"].items():
            out[f"  {k}"] = v
        size_mb = built["size"] / 1e6
        print(f"image build {out['image build']:.1f} s ({size_mb:.0f} MB)", file=sys.stderr, flush=True)
        order = [("pair from image", with_image), ("pair with debootstrap", without)] * args.rounds
        for i, (label, cfg) in enumerate(order + [("pair from image", with_image)]):
            took, _ = xenpair(cfg, "create", "bench", f"b{i}", "--yes", "--no-mail")
            out[f"{label} #{i}"] = took
            print(f"{label}: {took:.1f} s", file=sys.stderr, flush=True)
            shutil.rmtree(cfg.parent / "img" / "domains", ignore_errors=True)
        out["image refresh"], _ = xenpair(with_image, "image", "refresh")
    finally:
        sshd.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", str(tmp)], check=False)
        sandbox.leave()
    image = statistics.median(v for k, v in out.items() if k.startswith("pair from image"))
    deb = statistics.median(v for k, v in out.items() if k.startswith("pair with debootstrap"))
    copy = next(v for k, v in out.items() if k.startswith("  store root@"))
    print(f"# {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, {os.cpu_count()} cores, "
          f"mirror {args.mirror}, backup dom0 over SSH (sshd on 127.0.0.1), wall s")
    for k, v in out.items():
        print(f"{k:34s} {v:7.1f}")
    print(f"{'pair from image, median':34s} {image:7.1f}")
    print(f"{'pair with debootstrap, median':34s} {deb:7.1f}")
    print(f"{'debootstrap pair / image pair':34s} {deb / image:7.1f}x   (goal >= 6x)")
    print(f"{'copy to backup dom0':34s} {size_mb / copy:7.0f} MB/s, {copy:.1f} s against "
          f"{built['seconds']['debootstrap']:.1f} s for a second debootstrap there")


if __name__ == "__main__":
    main()
