"""Pairs that fail halfway: recorded states, `xenpair repair`, SIGKILL and Ctrl-C, same name twice."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import use_ssh_backup
from xenpair.adapters.registry import Registry
from xenpair.config import load_config


def registry(site):
    c = load_config(str(site.config_path))[0]
    return Registry(c.registry.hosting, c.registry.backup, c.hosting.prefix, c.backup.prefix)


def shown(site, name) -> dict:
    r = site.run("show", name, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def read_only_dir(path: Path) -> None:
    """Root ignores permissions: a read-only bind mount is what makes a dir unwritable for root."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)


def writable_again(path: Path) -> None:
    subprocess.run(["umount", str(path)], check=True)


def _backup_fails_then_repair(site):
    backup_dir = site.root / "backup-images"
    site.config["backup"]["xen_create_image"] = {"storage": {"dir": str(backup_dir)}}
    site.write_config()
    read_only_dir(backup_dir)
    try:
        r = site.run("create", "small", "half", "--yes", "--json")
    finally:
        writable_again(backup_dir)
    assert r.returncode == 1
    res = json.loads(r.stdout)
    assert res["state"] == "failed (backup)" and res["next"] == "xenpair repair half"
    assert res["hosting"]["ok"] and not res["backup"]["ok"]
    pair = shown(site, "half")
    assert (pair["state"], pair["hosting"]["state"], pair["backup"]["state"]) == \
        ("failed (backup)", "created", "failed")
    hosting_img = site.image_dir / "half.hosting.example.de" / "disk.img"
    before = hosting_img.stat().st_mtime_ns

    r = site.run("repair", "half", "--json")
    assert r.returncode == 0, r.stderr + r.stdout
    res = json.loads(r.stdout)
    assert res["kept"] == ["hosting"] and "hosting" not in res and res["backup"]["ok"]
    assert res["backup"]["summary"]["ips"] == ["192.168.30.2"]                  # the reserved address
    assert shown(site, "half")["state"] == "created"
    assert hosting_img.stat().st_mtime_ns == before                              # hosting untouched
    assert (backup_dir / "domains" / "half.backup.example.de" / "disk.img").is_file()
    lines = site.hosting_csv.read_text().splitlines() + site.backup_csv.read_text().splitlines()
    assert sum(";half." in line for line in lines) == 2                           # never duplicated


def test_backup_fails_hosting_kept_then_repair(tiny_site):
    _backup_fails_then_repair(tiny_site)


def test_backup_over_ssh_fails_then_repair(ssh_site):
    _backup_fails_then_repair(ssh_site)


def test_repair_of_a_complete_pair_changes_nothing(tiny_site):
    assert tiny_site.run("create", "small", "done", "--yes").returncode == 0
    before = tiny_site.hosting_csv.read_bytes(), tiny_site.backup_csv.read_bytes()
    r = tiny_site.run("repair", "done")
    assert r.returncode == 0 and "nothing to repair" in r.stdout
    assert (tiny_site.hosting_csv.read_bytes(), tiny_site.backup_csv.read_bytes()) == before


def test_repair_unknown_name(tiny_site):
    r = tiny_site.run("repair", "ghost")
    assert r.returncode == 2 and "no pair named 'ghost'" in r.stderr


def test_repair_dry_run_shows_what_it_overwrites(tiny_site):
    tiny_site.hosting_csv.write_text("IP;Name;Package;external IP;Date created;State\n"
                                     "192.168.20.1;Hosting;Xen-Host\n"
                                     "192.168.20.5;odd.hosting.example.de;small;;d;creating\n")
    (tiny_site.cfg_dir / "odd.hosting.example.de.cfg").write_text("name = 'odd'\n")    # a killed run's leftover
    before = tiny_site.hosting_csv.read_bytes()
    r = tiny_site.run("repair", "odd", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    steps = json.loads(r.stdout)["plan"]["steps"]
    assert "roles_sync" in steps[0]                        # xenpair-identity runs in every build
    assert steps[1]["title"] == "add the missing registry row(s)"
    assert steps[1]["registry"]["backup"]["row"].startswith("192.168.30.5;odd.backup.example.de;small;")
    rebuild = next(step for step in steps if "commands" in step)
    hosting = rebuild["commands"]["hosting"]
    assert "--force" in hosting["argv"]
    assert hosting["overwrites"] == [str(tiny_site.cfg_dir / "odd.hosting.example.de.cfg")]
    assert "--force" not in rebuild["commands"]["backup"]["argv"]
    assert steps[-1]["title"].startswith("mail the install summaries to root@hosting.example.de")
    assert tiny_site.hosting_csv.read_bytes() == before and not tiny_site.backup_csv.exists()
    r = tiny_site.run("repair", "odd", "--json")                       # and for real
    assert r.returncode == 0, r.stderr
    assert shown(tiny_site, "odd")["state"] == "created"


def _wait_for_images(site, count: int, timeout: float = 60) -> None:
    """Until COUNT guests' disk images exist: the builds are past their start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(list(site.image_dir.glob("*/disk.img"))) < count:
        time.sleep(0.1)


def _wait_for_builds_to_end(site, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-f", "--", f"--hostname=[{name[0]}]{name[1:]}\\."]).returncode == 1:
            return
        time.sleep(0.2)
    raise AssertionError("builds still running")


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.6, 0.9, 1.5])
def test_sigkill_at_any_moment_then_repair(tiny_site, sshd, delay):
    """SIGKILL to xenpair at several moments: the registry parses, the pair is visibly not created, repair
    completes it. The backup side goes over SSH, so the remote build's fate is covered too."""
    use_ssh_backup(tiny_site, sshd)
    proc = tiny_site.popen("create", "small", "killed", "--yes")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _wait_for_builds_to_end(tiny_site, "killed")
    snap = registry(tiny_site).read()                 # parses (raises if not)
    pair = snap.find("killed")
    if pair is None:                                  # killed before the reservation: nothing happened
        assert tiny_site.run("repair", "killed").returncode == 2
        return
    if pair.state != "created":
        assert pair.state in ("reserved", "creating") or pair.state.startswith(("failed", "incomplete"))
        r = tiny_site.run("repair", "killed", "--json")
        assert r.returncode == 0, r.stderr + r.stdout
    assert shown(tiny_site, "killed")["state"] == "created"
    assert registry(tiny_site).read().find("killed").n == pair.n


def test_sigkill_during_a_real_build_then_repair(real_site):
    proc = real_site.popen("create", "small", "mid", "--yes")
    _wait_for_images(real_site, 2)
    time.sleep(1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert shown(real_site, "mid")["state"] == "creating"
    _wait_for_builds_to_end(real_site, "mid")
    r = real_site.run("repair", "mid", "--json")
    assert r.returncode == 0, r.stderr + r.stdout
    assert shown(real_site, "mid")["state"] == "created"
    loops = subprocess.run(["losetup", "-n", "-O", "BACK-FILE", "-l"], capture_output=True, text=True).stdout
    assert str(real_site.image_dir) not in loops


def test_repair_and_destroy_refuse_while_a_build_still_runs(real_site):
    proc = real_site.popen("create", "small", "busy", "--yes")
    _wait_for_images(real_site, 1)
    r = real_site.run("repair", "busy")
    assert r.returncode == 1 and "a build of busy." in r.stderr and "is still running" in r.stderr
    r = real_site.run("destroy", "busy", "--yes")                 # nor deleted under a live build
    assert r.returncode == 1 and "is still running" in r.stderr
    proc.wait(120)


def test_ctrl_c_over_ssh_leaves_no_remote_process(real_site, sshd):
    use_ssh_backup(real_site, sshd)
    proc = real_site.popen("create", "small", "intr", "--yes")
    _wait_for_images(real_site, 2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=180)
    assert proc.returncode == 130
    assert subprocess.run(["pgrep", "-f", "--", "--hostname=[i]ntr"]).returncode == 1, "a build is left running"
    assert shown(real_site, "intr")["state"] == "failed (hosting and backup)"
    loops = subprocess.run(["losetup", "-n", "-O", "BACK-FILE", "-l"], capture_output=True, text=True).stdout
    assert str(real_site.image_dir) not in loops
    assert real_site.run("repair", "intr").returncode == 0
    assert shown(real_site, "intr")["state"] == "created"


def test_same_name_twice_at_once(real_site):
    first = real_site.popen("create", "small", "twin", "--yes")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not real_site.hosting_csv.exists():
        time.sleep(0.05)
    second = real_site.run("create", "small", "twin", "--yes")
    assert second.returncode == 2 and "the pair 'twin' is being created right now" in second.stderr
    first.communicate(timeout=180)
    assert first.returncode == 0
    assert shown(real_site, "twin")["state"] == "created"
