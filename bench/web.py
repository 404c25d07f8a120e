#!/usr/bin/env python3
"""The self-service pages: from the customer's "order" click to the pair shown ready, and how
fast the pair list answers with 1,000 pairs on the site.

order→ready  A customer with auto-approve orders a `boot` pair in headless Chromium (Debian's,
             driven by Playwright) against `xenpair web serve` (gunicorn) and one `xenpair web
             worker`; the clock runs from the click to the job page saying "ready" (the page polls
             every 1.5 s). Interleaved in the same run, the same pair from the CLI,
             `xenpair create boot NAME --wait`, is the reference: the difference is what the web
             path adds (queue pick-up, the page's polling). Backup machine over SSH (a real sshd on
             127.0.0.1); guests booted under QEMU by tests/tools/qemu-xl — the STAND-IN for Xen,
             which cannot run here — inside a private mount and network namespace
             (tests/bootnet.py, documentation-range addresses).
pair list    1,000 pairs in the registry (10.20.0.0/16 and 10.30.0.0/16: data only) with their
             machine states (three host keys each), all owned by web customers; GET / of a
             customer with 10 of them, of a customer with all 1,000, and the operator's page
             (every pair), each N times over HTTP to gunicorn (2 workers) on 127.0.0.1, logged in.

Usage: python bench/web.py [--rounds N] [--requests N] [--skip-boot]
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
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.ready import site as boot_site  # noqa: E402
from bench.registry import write_registry  # noqa: E402
from tests import bootnet, sandbox  # noqa: E402
from tests.sshd import Sshd  # noqa: E402
from tests.webtools import CHROMIUM, WebSite, web_config  # noqa: E402

PASSWORD = "bench-orders-pairs"
KEY = "SHA256:" + "A" * 43


def with_web(cfg: Path, root: Path, **web) -> Path:
    config = json.loads(cfg.read_text())          # JSON is YAML: the configs here are written as JSON
    config["web"] = web_config(root, heartbeat=1.0) | web
    cfg.write_text(json.dumps(config))
    return cfg


def order_to_ready(tmp: Path, rootfs: Path, rounds: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    sshd = Sshd(tmp / "sshd")
    root = tmp / "boot"
    cfg = with_web(boot_site(root, rootfs, sshd), root)
    key = tmp / "id_bench"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    pages = WebSite(cfg, root / "weblogs")
    out: dict[str, list[float]] = {"web": [], "cli": []}
    try:
        with bootnet.bridges(), sync_playwright() as p:
            pages.start(workers=1)
            pages.user("bench", PASSWORD, "--max-pairs", str(rounds), "--package", "boot", "--auto-approve")
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(pages.url + "/login/")
            page.get_by_label("Username").fill("bench")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            for r in range(rounds):
                t = time.perf_counter()
                cli = subprocess.run([sys.executable, "-m", "xenpair", "--config", str(cfg), "create", "boot",
                                      f"cli{r}", "--no-external-ip", "--yes", "--no-mail", "--wait"],
                                     capture_output=True, text=True)
                if cli.returncode != 0:
                    sys.exit(f"CLI round {r + 1} failed:\n{cli.stderr[-3000:]}")
                out["cli"].append(time.perf_counter() - t)
                bootnet.stop_guests(root / "qemu")

                page.goto(pages.url + "/")
                form = page.locator("form[action='/order/']")
                form.get_by_label("Name").fill(f"web{r}")
                form.get_by_label("SSH public keys").fill(key.with_suffix(".pub").read_text())
                t = time.perf_counter()
                form.get_by_role("button", name="Order").click()
                outcome = page.locator("#outcome", has_text="ready").or_(page.locator("#outcome", has_text="failed"))
                outcome.wait_for(timeout=1_800_000)
                out["web"].append(time.perf_counter() - t)
                if page.locator("#outcome").inner_text() != "ready":
                    sys.exit(f"web round {r + 1} failed:\n{page.locator('#log').inner_text()[-3000:]}")
                bootnet.stop_guests(root / "qemu")
                print(f"round {r + 1}: CLI create --wait {out['cli'][-1]:.1f} s, web order→ready "
                      f"{out['web'][-1]:.1f} s", file=sys.stderr, flush=True)
            browser.close()
    finally:
        pages.stop()
        bootnet.stop_guests(root / "qemu")
        sshd.stop()
    return out


def machine_states(csv: Path, kind: str, pairs: int) -> None:
    when = "2026-11-27T10:00:00+00:00"
    entry = {"host_keys": [{"algorithm": a, "fingerprint": KEY} for a in ("ECDSA", "ED25519", "RSA")],
             "built": when, "started": when, "ready": when, "ready_after_s": 31.5, "problem": None}
    data = {"version": 1, "machines": {f"c{n}.{kind}.example.de": entry for n in range(2, pairs + 2)}}
    csv.with_name(csv.name + ".machines.json").write_text(json.dumps(data))


def pair_list(tmp: Path, pairs: int, requests: int) -> dict[str, list[float]]:
    root = tmp / "list"
    root.mkdir()
    write_registry(root, pairs)
    machine_states(root / "h.csv", "hosting", pairs)
    machine_states(root / "b.csv", "backup", pairs)
    cfg = root / "config.yaml"
    cfg.write_text(json.dumps({"registry": {"hosting": str(root / "h.csv"), "backup": str(root / "b.csv")},
                               "hosting": {"prefix": "10.20.0.0/16"}, "backup": {"prefix": "10.30.0.0/16"}}))
    with_web(cfg, root)
    pages = WebSite(cfg, root / "weblogs")
    pages.cli("web", "migrate")
    os.environ["XENPAIR_CONFIG"] = str(cfg)
    os.environ["DJANGO_SETTINGS_MODULE"] = "xenpair.web.settings"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client

    from xenpair.web.models import Customer, Pair

    few = Customer.objects.create(user=User.objects.create_user("few", password=PASSWORD), max_pairs=10)
    every = Customer.objects.create(user=User.objects.create_user("all", password=PASSWORD), max_pairs=pairs)
    Pair.objects.bulk_create(Pair(name=f"c{n}", customer=few if n < 12 else every, ssh_keys="")
                             for n in range(2, pairs + 2))
    op = User.objects.create_user("op", password=PASSWORD, is_staff=True, is_superuser=True)
    out: dict[str, list[float]] = {}
    try:
        pages.start(workers=0)
        for label, user, move in (("customer, 10 of 1,000 pairs", few.user, None),
                                  ("customer, all 1,000 pairs", every.user, every),
                                  ("operator page, every pair", op, None)):
            if move is not None:
                Pair.objects.update(customer=move)
            client = Client()
            client.force_login(user)
            cookie = f"sessionid={client.cookies['sessionid'].value}"
            path = "/operator/" if user.is_staff else "/"
            times = []
            for _ in range(requests + 5):
                req = urllib.request.Request(pages.url + path, headers={"Cookie": cookie})
                t = time.perf_counter()
                with urllib.request.urlopen(req, timeout=60) as r:
                    body = r.read()
                    assert r.status == 200 and b"c11" in body, (r.status, body[:500])
                times.append(time.perf_counter() - t)
            out[label] = times[5:]                      # the first ones warm gunicorn's workers up
    finally:
        pages.stop()
    return out


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--skip-boot", action="store_true", help="only the pair list")
    ap.add_argument("--rootfs", default=os.environ.get("XENPAIR_TEST_ROOTFS",
                                                      "/var/cache/xenpair-test/bookworm-rootfs.tar"))
    args = ap.parse_args()
    sandbox.enter()
    tmp = Path(tempfile.mkdtemp(prefix="xenpair-bench-web-"))
    try:
        lists = pair_list(tmp, args.pairs, args.requests)
        ready = {} if args.skip_boot else order_to_ready(tmp, Path(args.rootfs), args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        sandbox.leave()
    print(f"# {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, {os.cpu_count()} cores")
    for label, times in lists.items():
        print(f"GET {label:30s} p50 {pct(times, 50):6.1f} ms  p95 {pct(times, 95):6.1f} ms  ({len(times)} requests)")
    if ready:
        cli, web = statistics.median(ready["cli"]), statistics.median(ready["web"])
        print(f"order click → page says ready (web): median {web:.1f} s  {[round(x, 1) for x in ready['web']]}")
        print(f"create --wait (CLI), same pair:      median {cli:.1f} s  {[round(x, 1) for x in ready['cli']]}")
        print(f"web / CLI: {web / cli:.2f}")


if __name__ == "__main__":
    main()
