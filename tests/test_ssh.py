"""The backup dom0 over SSH, against a real OpenSSH sshd on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests import xlcfg
from tests.conftest import use_ssh_backup
from xenpair.adapters.ssh import SshHost
from xenpair.config import SshSettings, SshTarget


def host(sshd, **kw) -> SshHost:
    settings = {"key_file": str(sshd.client_key), "known_hosts": str(sshd.known_hosts), "connect_timeout": 5}
    settings.update(kw)
    return SshHost(SshTarget("root", "127.0.0.1", sshd.port), SshSettings(**settings))


def test_run_exit_code_streams_and_quoting(sshd):
    h = host(sshd)
    lines = []
    r = h.run(["sh", "-c", 'echo "$1"; echo err >&2; exit 7', "sh", "a b;$(reboot) 'q'"],
              on_line=lambda stream, line: lines.append((stream, line)))
    assert (r.returncode, r.stdout, r.stderr) == (7, "a b;$(reboot) 'q'\n", "err\n")
    assert ("stdout", "a b;$(reboot) 'q'") in lines
    assert h.exists("/etc/passwd") and not h.exists("/nonexistent")
    assert h.which("xen-create-image") == "/usr/bin/xen-create-image" and h.which("no-such-cmd") is None
    h.close()


def test_command_past_the_timeout_is_stopped(sshd):
    # stand-in: a shell that sleeps plays a remote xen-create-image that hangs
    h = host(sshd)
    h.stop_grace = 1.0
    # durations nobody else uses: pgrep looks at every process on this machine (a developer's own
    # `sleep 300` once made this test fail)
    r = h.run(["sh", "-c", "sleep 28713 & sleep 28714; wait"], timeout=1.5)
    assert r.timed_out
    left = subprocess.run(["pgrep", "-f", "sleep 2871[34]"], capture_output=True, text=True).stdout
    assert left == "", "the remote process group must be gone"
    h.close()


def test_pair_with_the_backup_built_over_ssh(ssh_site, sshd):
    r = ssh_site.run("create", "small", "remote", "--yes", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["backup"]["host"] == f"root@127.0.0.1:{sshd.port}" and res["hosting"]["host"] == "local"
    assert res["backup"]["summary"]["hostname"] == "remote.backup.example.de"
    assert res["backup"]["summary"]["ips"] == ["192.168.30.2"]
    cfg = xlcfg.parse(ssh_site.cfg_dir / "remote.backup.example.de.cfg")
    assert cfg["vif"][0].startswith("ip=192.168.30.2 ,") and cfg["memory"] == "128"


def _refused(site, message: str) -> str:
    r = site.run("create", "small", "nope", "--yes")
    assert r.returncode == 1, r.stderr
    assert message in r.stderr, r.stderr
    assert not site.hosting_csv.exists() and not site.image_dir.exists()    # nothing created
    return r.stderr


def test_unknown_host_key_is_refused(tiny_site, sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    use_ssh_backup(tiny_site, sshd, known_hosts=str(empty))
    err = _refused(tiny_site, f"the SSH host key of the backup dom0 127.0.0.1:{sshd.port} is not known")
    fp = subprocess.run(["ssh-keygen", "-lf", str(sshd.root / "host_ed25519.pub")], capture_output=True,
                        text=True).stdout.split()[1]
    assert f"offered key: ssh-ed25519 {fp}" in err
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}" in err
    assert empty.read_text() == ""                                  # never added


def test_changed_host_key_is_refused(tiny_site, sshd, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd.port} {(tmp_path / 'other.pub').read_text()}")
    use_ssh_backup(tiny_site, sshd, known_hosts=str(kh))
    err = _refused(tiny_site, "has CHANGED")
    assert "expected key: ssh-ed25519 SHA256:" in err and f"ssh-keygen -R '[127.0.0.1]:{sshd.port}'" in err


def test_wrong_user_key_is_refused(tiny_site, sshd, tmp_path):
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    use_ssh_backup(tiny_site, sshd, key_file=str(key))
    _refused(tiny_site, f"SSH login as root on the backup dom0 127.0.0.1:{sshd.port} was refused")


def test_port_with_nothing_listening(tiny_site, sshd):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_ssh_backup(tiny_site, sshd)
    tiny_site.config["backup"]["host"] = f"root@127.0.0.1:{port}"
    tiny_site.write_config()
    _refused(tiny_site, f"cannot connect to the backup dom0 127.0.0.1:{port}")


@pytest.mark.parametrize("cmd", ["create"])
def test_dry_run_over_ssh_checks_the_remote_world(ssh_site, cmd):
    (ssh_site.cfg_dir / "ghost.backup.example.de.cfg").write_text("name = 'ghost'\n")
    r = ssh_site.run("create", "small", "ghost", "--dry-run")
    assert r.returncode == 1 and "ghost.backup.example.de.cfg already exists on host root@127.0.0.1" in r.stderr


def test_remote_build_past_command_timeout_fails_clearly(ssh_site, tmp_path):
    # stand-in: a script that never finishes plays a remote xen-create-image that hangs
    hang = tmp_path / "hanging-xen-create-image"
    hang.write_text("#!/bin/sh\nexec sleep 600\n")
    hang.chmod(0o755)
    ssh_site.config["backup"]["ssh"]["command_timeout"] = 2
    ssh_site.config["backup"]["xen_create_image"] = {"command": str(hang)}
    ssh_site.write_config()
    r = ssh_site.run("create", "small", "slow", "--yes", "--json")
    assert r.returncode == 1
    res = json.loads(r.stdout)
    assert res["backup"]["problem"].startswith("xen-create-image did not finish within")
    assert res["hosting"]["ok"] and res["state"] == "failed (backup)"
    assert subprocess.run(["pgrep", "-f", "--", "exec sleep 600|sleep 600"]).returncode == 1


def test_run_log_holds_both_machines_output(ssh_site):
    import os
    import stat

    res = json.loads(ssh_site.run("create", "small", "logged", "--yes", "--json").stdout)
    log = res["run_log"]
    assert log.startswith(str(ssh_site.root / "xenpair-logs" / "logged-"))
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600                 # root passwords are in it
    text = open(log).read()
    assert " hosting argv   env XENPAIR_MACHINE=hosting " in text
    assert " xen-create-image --hostname=logged.hosting.example.de" in text
    assert " backup  stdout Installation Summary" in text and " hosting stdout Installation Summary" in text
