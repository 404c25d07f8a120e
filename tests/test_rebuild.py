"""Rebuilding a pair in place (create --overwrite), end to end on the real xen-create-image."""

from __future__ import annotations

import json

import pexpect

from tests.conftest import use_ssh_backup


def image(site, name: str, role: str):
    return site.image_dir / f"{name}.{role}.example.de" / "disk.img"


def rows(site, name: str) -> list[str]:
    return [line for line in (site.hosting_csv.read_text() + site.backup_csv.read_text()).splitlines()
            if f";{name}." in line]


def test_rebuild_hosting_only_keeps_the_backup(ssh_site):
    assert ssh_site.run("create", "small", "shop", "203.0.113.7", "--yes").returncode == 0
    h_before, b_before = image(ssh_site, "shop", "hosting").stat(), image(ssh_site, "shop", "backup").stat()
    r = ssh_site.run("create", "big", "shop", "--overwrite", "--yes", "--json")
    assert r.returncode == 0, r.stderr + r.stdout
    res = json.loads(r.stdout)
    assert res["action"] == "rebuild" and res["kept"] == ["backup"] and "backup" not in res
    assert res["n"] == 2 and res["hosting"]["ip"] == "192.168.20.2"
    assert res["hosting"]["summary"]["ips"] == ["192.168.20.2", "203.0.113.7"]         # same external IP
    assert "--force" in open(res["run_log"]).read()
    h_after, b_after = image(ssh_site, "shop", "hosting").stat(), image(ssh_site, "shop", "backup").stat()
    assert h_after.st_mtime_ns != h_before.st_mtime_ns and h_after.st_size == 2 << 30   # the big tier
    assert (b_after.st_mtime_ns, b_after.st_ino) == (b_before.st_mtime_ns, b_before.st_ino)   # untouched
    lines = rows(ssh_site, "shop")
    assert len(lines) == 2                                                               # never duplicated
    assert lines[0].startswith("192.168.20.2;shop.hosting.example.de;big;203.0.113.7;")
    assert lines[0].endswith(";created")
    assert lines[1].startswith("192.168.30.2;shop.backup.example.de;small;")            # backup row as it was


def test_rebuild_backup_too_and_new_external_ip(ssh_site):
    assert ssh_site.run("create", "small", "both", "203.0.113.7", "--yes").returncode == 0
    b_before = image(ssh_site, "both", "backup").stat()
    r = ssh_site.run("create", "small", "both", "203.0.113.8", "--overwrite", "--rebuild-backup", "--yes", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["kept"] == [] and res["backup"]["ok"]
    assert image(ssh_site, "both", "backup").stat().st_mtime_ns != b_before.st_mtime_ns
    assert ";203.0.113.8;" in rows(ssh_site, "both")[0]


def test_dry_run_says_what_is_destroyed_and_changes_nothing(tiny_site):
    assert tiny_site.run("create", "small", "dry", "--yes").returncode == 0
    before = tiny_site.hosting_csv.read_bytes(), image(tiny_site, "dry", "hosting").stat().st_mtime_ns
    r = tiny_site.run("create", "small", "dry", "--overwrite", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"overwrites {tiny_site.cfg_dir / 'dry.hosting.example.de.cfg'}" in r.stdout
    assert "backup machine: kept as it is" in r.stdout and "--force" in r.stdout
    assert (tiny_site.hosting_csv.read_bytes(), image(tiny_site, "dry", "hosting").stat().st_mtime_ns) == before


def test_overwrite_needs_an_existing_pair(tiny_site):
    r = tiny_site.run("create", "small", "nosuch", "--overwrite", "--yes")
    assert r.returncode == 2 and "there is no pair 'nosuch' to rebuild" in r.stderr
    r = tiny_site.run("create", "small", "x", "--rebuild-backup", "--yes")
    assert r.returncode == 2 and "--rebuild-backup goes with --overwrite" in r.stderr


def test_running_guest_refused_unless_stop(tiny_site, fake_xl):
    xl, running = fake_xl
    tiny_site.config["toolstack"] = str(xl)
    tiny_site.write_config()
    assert tiny_site.run("create", "small", "up", "--yes", "--start").returncode == 0    # starts both (stand-in xl)
    assert sorted(p.name for p in running.iterdir()) == ["up.backup.example.de", "up.hosting.example.de"]
    r = tiny_site.run("create", "small", "up", "--overwrite", "--yes")
    assert r.returncode == 2 and "up.hosting.example.de on local is running" in r.stderr and "--stop" in r.stderr
    r = tiny_site.run("create", "small", "up", "--overwrite", "--stop", "--yes", "--json")
    assert r.returncode == 0, r.stderr
    assert [p.name for p in running.iterdir()] == ["up.backup.example.de"]           # backup never stopped


def test_start_failure_is_reported_and_keeps_the_build(tiny_site, tmp_path):
    failing = tmp_path / "failing-xl"             # stand-in for a toolstack that cannot start guests
    failing.write_text("#!/bin/sh\n[ \"$1\" = list ] && { echo \"$2 is an invalid domain identifier\" >&2; exit 1; }\n"
                       "echo 'libxl: error: no hypervisor' >&2; exit 3\n")
    failing.chmod(0o755)
    tiny_site.config["toolstack"] = str(failing)
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "cold", "--yes", "--start", "--json")
    assert r.returncode == 1
    res = json.loads(r.stdout)
    assert res["state"] == "created" and res["next"] is None
    assert "no hypervisor" in res["started"]["hosting"] and "no hypervisor" in res["started"]["backup"]
    assert json.loads(tiny_site.run("show", "cold", "--json").stdout)["state"] == "created"


def test_interactive_rebuild_needs_the_typed_name(tiny_site, sshd):
    use_ssh_backup(tiny_site, sshd)
    assert tiny_site.run("create", "small", "web", "--yes").returncode == 0
    before = image(tiny_site, "web", "hosting").stat().st_mtime_ns
    args = ("create", "small", "web", "--overwrite", "--rebuild-backup", "--no-start")
    child = tiny_site.spawn(*args)
    child.expect("This REBUILDS pair web")
    child.expect(str(image(tiny_site, "web", "hosting").parent))      # exactly what goes, on which host
    child.expect(f"on host root@127.0.0.1:{sshd.port}")
    child.expect("THE CUSTOMER'S BACKUPS ON IT ARE LOST")
    child.expect("Type the machine name")
    child.send("wbe\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and image(tiny_site, "web", "hosting").stat().st_mtime_ns == before

    child = tiny_site.spawn(*args, timeout=120)
    child.expect("Type the machine name")
    child.send("web\r")
    child.expect("pair web rebuilt")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and image(tiny_site, "web", "hosting").stat().st_mtime_ns != before
