"""xenpair destroy end to end: the real xen-delete-image on both hosts (backup over the real sshd)."""

from __future__ import annotations

import json

import pexpect

from tests.conftest import old_wrapper_registry


def guest_files(site, name: str, role: str) -> list[str]:
    fqdn = f"{name}.{role}.example.de"
    out = [p for p in [site.cfg_dir / f"{fqdn}.cfg", site.image_dir / fqdn] if p.exists()]
    return [str(p) for p in out]


def test_destroy_removes_both_machines_and_frees_n(ssh_site):
    assert ssh_site.run("create", "small", "gone", "--yes").returncode == 0
    assert guest_files(ssh_site, "gone", "hosting") and guest_files(ssh_site, "gone", "backup")
    r = ssh_site.run("destroy", "gone", "--yes", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res == {"name": "gone", "destroyed": ["hosting", "backup"], "kept": [], "n": 2, "freed": True}
    assert guest_files(ssh_site, "gone", "hosting") == [] and guest_files(ssh_site, "gone", "backup") == []
    assert ";gone." not in ssh_site.hosting_csv.read_text() + ssh_site.backup_csv.read_text()
    assert ssh_site.run("show", "gone").returncode == 2
    r = ssh_site.run("create", "small", "next", "--yes", "--json")        # N is free again
    assert json.loads(r.stdout)["n"] == 2


def test_keep_backup_keeps_the_backup_machine(ssh_site):
    assert ssh_site.run("create", "small", "half", "--yes").returncode == 0
    backup_before = guest_files(ssh_site, "half", "backup")
    r = ssh_site.run("destroy", "half", "--yes", "--keep-backup")
    assert r.returncode == 0, r.stderr
    assert "kept: backup" in r.stdout
    assert guest_files(ssh_site, "half", "hosting") == []
    assert guest_files(ssh_site, "half", "backup") == backup_before
    shown = json.loads(ssh_site.run("show", "half", "--json").stdout)
    assert shown["state"] == "hosting destroyed (backup kept)" and shown["backup"]["state"] == "created"
    assert ssh_site.run("repair", "half").returncode == 0                 # nothing to repair
    assert json.loads(ssh_site.run("create", "small", "other", "--yes", "--json").stdout)["n"] == 3
    r = ssh_site.run("destroy", "half", "--yes")                          # later: the backup too
    assert r.returncode == 0 and guest_files(ssh_site, "half", "backup") == []


def test_dry_run_lists_what_would_be_deleted(tiny_site):
    assert tiny_site.run("create", "small", "keep", "--yes").returncode == 0
    before = tiny_site.hosting_csv.read_bytes(), tiny_site.backup_csv.read_bytes()
    r = tiny_site.run("destroy", "keep", "--dry-run")
    assert r.returncode == 0, r.stderr
    for path in guest_files(tiny_site, "keep", "hosting") + guest_files(tiny_site, "keep", "backup"):
        assert f"deletes {path}" in r.stdout
    assert "xen-delete-image --dir=" in r.stdout
    assert (tiny_site.hosting_csv.read_bytes(), tiny_site.backup_csv.read_bytes()) == before
    assert len(guest_files(tiny_site, "keep", "hosting")) == 2


def test_running_guest_is_refused(tiny_site, fake_xl):
    xl, running = fake_xl
    tiny_site.config["toolstack"] = str(xl)
    tiny_site.write_config()
    assert tiny_site.run("create", "small", "busy", "--yes").returncode == 0
    (running / "busy.hosting.example.de").touch()
    r = tiny_site.run("destroy", "busy", "--yes")
    assert r.returncode == 2 and "busy.hosting.example.de on local is running" in r.stderr
    assert len(guest_files(tiny_site, "busy", "hosting")) == 2


def test_old_wrapper_pair_is_destroyed_and_other_rows_stay_byte_identical(tiny_site):
    hosting, backup = old_wrapper_registry(tiny_site)
    r = tiny_site.run("destroy", "blog", "--yes")          # no guest files: only the rows go
    assert r.returncode == 0, r.stderr
    assert tiny_site.hosting_csv.read_bytes().splitlines()[1:] == \
        [line for line in hosting.splitlines()[1:] if b";blog." not in line]
    assert tiny_site.backup_csv.read_bytes().splitlines()[1:] == \
        [line for line in backup.splitlines()[1:] if b";blog." not in line]


def test_without_terminal_and_yes(tiny_site):
    old_wrapper_registry(tiny_site)
    r = tiny_site.run("destroy", "shop")
    assert r.returncode == 2 and "--yes" in r.stderr
    assert "shop" in tiny_site.hosting_csv.read_text()


def test_typing_the_name_confirms(tiny_site):
    assert tiny_site.run("create", "small", "typed", "--yes").returncode == 0
    child = tiny_site.spawn("destroy", "typed")
    child.expect("This DESTROYS pair typed")
    child.expect("THE CUSTOMER'S BACKUPS ON IT ARE LOST")
    child.expect("Type the machine name")
    child.sendline("typo")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and len(guest_files(tiny_site, "typed", "hosting")) == 2

    child = tiny_site.spawn("destroy", "typed")
    child.expect("Type the machine name")
    child.sendline("typed")
    child.expect("pair typed: destroyed hosting and backup")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and guest_files(tiny_site, "typed", "hosting") == []


def test_esc_at_the_prompt_exits_130(tiny_site):
    assert tiny_site.run("create", "small", "esc", "--yes").returncode == 0
    child = tiny_site.spawn("destroy", "esc")
    child.expect("Type the machine name")
    child.send("\x1b")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and len(guest_files(tiny_site, "esc", "hosting")) == 2


def test_destroy_unregisters_from_icinga(ssh_site, tmp_path):
    """A pair registered with Icinga (files as the monitoring role's registration leaves them):
    destroy --keep-backup takes the hosting machine out, later destroy the backup machine too."""
    from tests.test_icinga import HOSTGROUPS
    from xenpair.adapters import icinga

    assert ssh_site.run("create", "small", "mon", "--yes").returncode == 0
    d = tmp_path / "icinga"
    d.mkdir()
    groups = icinga.add_member(HOSTGROUPS, "hosting-servers", "mon.hosting.example.de")
    groups = icinga.add_member(groups, "backup-servers", "mon.backup.example.de")
    (d / "hostgroups_icinga.cfg").write_text(groups)
    for kind in ("hosting", "backup"):
        (d / f"mon.{kind}.example.de_icinga.cfg").write_text(icinga.host_object(f"mon.{kind}.example.de", "x", "t"))
    ssh_site.config["roles"] = {"icinga": {"objects_dir": str(d)}}
    ssh_site.write_config()

    dry = ssh_site.run("destroy", "mon", "--keep-backup", "--dry-run")
    assert "unregister mon.hosting.example.de from Icinga on host local" in dry.stdout
    assert "unregister mon.backup" not in dry.stdout
    assert (d / "mon.hosting.example.de_icinga.cfg").exists()
    r = ssh_site.run("destroy", "mon", "--yes", "--keep-backup")
    assert r.returncode == 0, r.stderr
    assert not (d / "mon.hosting.example.de_icinga.cfg").exists()
    assert (d / "mon.backup.example.de_icinga.cfg").exists()
    assert "mon.hosting" not in (d / "hostgroups_icinga.cfg").read_text()
    assert (d / "hostgroups_icinga.cfg.bak").read_text() == groups
    r = ssh_site.run("destroy", "mon", "--yes")                            # the backup machine, over SSH
    assert r.returncode == 0, r.stderr
    assert not (d / "mon.backup.example.de_icinga.cfg").exists()
    assert (d / "hostgroups_icinga.cfg").read_text() == HOSTGROUPS
