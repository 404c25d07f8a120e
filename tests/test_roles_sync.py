"""Site roles on the dom0s: `roles sync` (local and over the real sshd), `check`, and the argv they give."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from importlib import resources

import pytest

from tests.test_ssh import host as ssh_host
from xenpair.adapters.hosts import LocalHost
from xenpair.core import roles

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnlyFakeKeyForTestsOnly00 root@hosting-dom0"
ROLES_ON = {"hosting": ["base", "monitoring"], "backup": ["base", "monitoring", "backup-jail"],
            "backup_keys": [KEY]}


def shipped_digest(name: str) -> str:
    return hashlib.sha256((resources.files("xenpair") / "roles" / name).read_bytes()).hexdigest()


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_sync_copies_changed_files_only_with_mode_0755(where, sshd, tmp_path):
    host = LocalHost() if where == "local" else ssh_host(sshd)
    d = tmp_path / "roles"
    assert set(roles.sync(host, str(d)).values()) == {"added"}
    for name in roles.SHIPPED:
        p = d / name
        assert hashlib.sha256(p.read_bytes()).hexdigest() == shipped_digest(name)
        assert stat.S_IMODE(p.stat().st_mode) == 0o755
    assert set(roles.sync(host, str(d)).values()) == {"unchanged"}

    (d / "base").write_text("#!/bin/sh\necho old\n")
    os.chmod(d / "monitoring", 0o644)
    before = (d / "backup-jail").stat().st_mtime_ns
    done = roles.sync(host, str(d))
    assert (done["base"], done["monitoring"], done["backup-jail"]) == ("updated", "mode fixed", "unchanged")
    assert (d / "backup-jail").stat().st_mtime_ns == before           # not rewritten
    assert roles.status(host, str(d)) == dict.fromkeys(roles.SHIPPED, "ok")
    if where == "ssh":
        host.close()


def test_roles_sync_command_and_check(tiny_site):
    d = tiny_site.root / "roles"
    r = tiny_site.run("roles", "sync", "--dry-run", "--json")
    assert r.returncode == 0 and not d.exists()
    assert json.loads(r.stdout)["plan"]["summary"]["status"]["local"]["base"] == "missing"

    r = tiny_site.run("check")
    assert "not there yet" in r.stdout and "xenpair roles sync" in r.stdout

    r = tiny_site.run("roles", "sync")
    assert r.returncode == 0, r.stderr
    assert "base added" in r.stdout and "backup-jail added" in r.stdout
    r = tiny_site.run("roles", "sync")
    assert r.stdout.strip() == f"local: {d}: all current"
    assert "all 8 role files current" in tiny_site.run("check").stdout

    (d / "monitoring").write_text("#!/bin/sh\n")
    os.chmod(d / "backup-jail", 0o644)
    r = tiny_site.run("check")
    assert r.returncode == 1
    assert "monitoring differs from this xenpair" in r.stdout and "backup-jail is not 0755" in r.stdout
    assert "xenpair roles sync" in r.stdout


def test_create_passes_roles_in_one_list_and_settings_as_environment(tiny_site):
    tiny_site.config["roles"] = {**ROLES_ON, "smarthost": "mail.example.de::587",
                                 "monitoring_servers": ["192.168.150.2", "192.168.150.3"]}
    tiny_site.config["external"] = {"netmask": "255.255.255.0", "gateway": "203.0.113.1"}
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "shop", "203.0.113.10", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)["plan"]
    assert plan["steps"][0]["roles_sync"] == {"dir": str(tiny_site.root / "roles"), "hosts": ["local"]}
    cmds = {k: v["argv"] for k, v in next(s for s in plan["steps"] if "commands" in s)["commands"].items()}
    for kind, argv in cmds.items():
        assert argv[0] == "env"
        env = dict(a.split("=", 1) for a in argv[1:argv.index("xen-create-image")])
        assert env["XENPAIR_MACHINE"] == kind
        assert f"--roledir={tiny_site.root / 'roles'}" in argv
        assert not any(a.startswith("--role-args") for a in argv)
        assert env["XENPAIR_SMARTHOST"] == "mail.example.de::587"
        assert env["XENPAIR_MONITORING_SERVERS"] == "192.168.150.2 192.168.150.3"
    hosting_env = dict(a.split("=", 1) for a in cmds["hosting"][1:cmds["hosting"].index("xen-create-image")])
    backup_env = dict(a.split("=", 1) for a in cmds["backup"][1:cmds["backup"].index("xen-create-image")])
    assert "--role=xenpair-external-ip,base,monitoring,xenpair-identity" in cmds["hosting"]
    assert "--role=base,monitoring,backup-jail,xenpair-identity" in cmds["backup"]
    assert hosting_env["XENPAIR_EXTERNAL_GATEWAY"] == "203.0.113.1"
    assert "restic" in hosting_env["XENPAIR_PACKAGES"].split() and "restic" not in backup_env["XENPAIR_PACKAGES"]
    assert backup_env["XENPAIR_BACKUP_KEYS"] == KEY and backup_env["XENPAIR_BACKUP_REPO"] == "/backup/repo"
    assert hosting_env["XENPAIR_BACKUP_REPO"] == "" and "XENPAIR_BACKUP_KEYS" not in hosting_env
    assert plan["summary"]["machines"]["backup"]["roles"] == ["base", "monitoring", "backup-jail", "xenpair-identity"]


def test_without_site_roles_only_xenpair_s_own_runs(tiny_site):
    """No site roles: every machine still gets xenpair-identity (its own host keys), so the role
    scripts are synced first and the argv carries that role and its one setting."""
    r = tiny_site.run("create", "small", "shop", "--no-external-ip", "--dry-run", "--json")
    plan = json.loads(r.stdout)["plan"]
    assert "roles_sync" in plan["steps"][0]
    cmds = next(s for s in plan["steps"] if "commands" in s)["commands"]
    for kind, c in cmds.items():
        assert c["argv"][:4] == ["env", f"XENPAIR_MACHINE={kind}", "XENPAIR_HOST_KEY_TYPES=ed25519",
                                 "xen-create-image"]
        assert [a for a in c["argv"] if a.startswith("--role=")] == ["--role=xenpair-identity"]


def test_human_plan_names_the_roles_and_the_sync(tiny_site):
    tiny_site.config["roles"] = ROLES_ON
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "shop", "--no-external-ip", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"1. sync the role scripts to {tiny_site.root / 'roles'} on local" in r.stdout
    assert "roles base, monitoring, backup-jail, xenpair-identity" in r.stdout
    assert "roles base, monitoring, xenpair-identity\n" in r.stdout
    assert "--role=base,monitoring,backup-jail,xenpair-identity" in r.stdout
    r = tiny_site.run("roles", "sync", "--dry-run")
    assert r.returncode == 0 and "local: copy base, monitoring" in r.stdout and "base: missing" in r.stdout


def test_overwrite_and_repair_plans_carry_the_roles_too(tiny_site):
    assert tiny_site.run("create", "small", "shop", "--no-external-ip", "--yes", "--no-start").returncode == 0
    tiny_site.config["roles"] = ROLES_ON
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "shop", "--overwrite", "--rebuild-backup", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)["plan"]
    assert "roles_sync" in plan["steps"][0]
    cmds = next(s for s in plan["steps"] if "commands" in s)["commands"]
    assert "--role=base,monitoring,xenpair-identity" in cmds["hosting"]["argv"]
    assert "--force" in cmds["hosting"]["argv"]
    assert "--role=base,monitoring,backup-jail,xenpair-identity" in cmds["backup"]["argv"]
