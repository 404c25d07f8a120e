"""Ready means ready, shown on guests that really boot.

No Xen hypervisor runs here: the toolstack is tests/tools/qemu-xl, a STAND-IN for `xl` that boots
the guest xen-create-image built under QEMU (software emulation) — its own disk image, kernel,
initrd, init, network configuration and sshd; only the disk and NIC models differ from Xen's
(see the script). Everything else is xenpair's real path: `create --start --wait` builds with
the real xen-create-image and roles, the backup machine over the real sshd (its dom0), starts
both through the toolstack command, and checks each guest's host key from its own dom0 (the
backup guest through a direct-tcpip channel of the SSH connection).

Network: bridges in the tests' own network namespace, documentation ranges only: hosting
198.51.100.0/24 (xenbr1), backup 192.0.2.0/24 (xenbr2), external 203.0.113.0/24 (xenbr0); the
namespace routes between them as the dom0s would. Nothing leaves it.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import bootnet
from tests.conftest import OFFLINE_MIRROR, use_ssh_backup

pytestmark = pytest.mark.xci
BOOT_TIMEOUT = 600           # TCG on a loaded 2-core machine, two guests at once


@pytest.fixture(scope="module")
def bridges():
    with bootnet.bridges():
        yield


@pytest.fixture(scope="module")
def login_key(tmp_path_factory):
    """The test logs in to the booted guests with this key, which reaches them the way a site's
    would: xen-tools copies /etc/xen-tools/skel into every guest (65-copy-user-files). The skel
    folder is covered for this module only, inside the tests' mount namespace."""
    d = tmp_path_factory.mktemp("skel")
    key = d / "id_login"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "xenpair-boot-test", "-f", str(key)],
                   check=True)
    skel = d / "skel"
    (skel / "root/.ssh").mkdir(parents=True)
    (skel / "root/.ssh").chmod(0o700)
    (skel / "root/.ssh/authorized_keys").write_text(key.with_suffix(".pub").read_text())
    (skel / "root/.ssh/authorized_keys").chmod(0o600)
    if not Path("/etc/xen-tools/skel").is_dir():
        pytest.fail("/etc/xen-tools/skel is missing: is xen-tools installed?")
    subprocess.run(["mount", "--bind", str(skel), "/etc/xen-tools/skel"], check=True)
    yield key
    subprocess.run(["umount", "/etc/xen-tools/skel"], check=True)


def guest_ssh(key: Path, known_hosts: Path, address: str, command: str, input: str | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess:
    """ssh as the admin would after `xenpair wait`: the host key must already be in xenpair's
    known_hosts file (StrictHostKeyChecking=yes: an unknown key is refused, never added)."""
    argv = ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"GlobalKnownHostsFile={known_hosts}", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=20", f"root@{address}", command]
    return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def booted(tmp_path_factory, real_rootfs, mailbox, sshd, apt_proxy, bridges, login_key):
    """One pair with every site role and an external IP, built and booted by
    `xenpair create boot shop 203.0.113.30 --start --wait`; both guests stay up for this module."""
    from tests.conftest import _site

    root = tmp_path_factory.mktemp("boot")
    state = root / "qemu"
    site = _site(root, real_rootfs, "bookworm", mailbox[1])
    bootnet.boot_config(site.config, state, BOOT_TIMEOUT)
    site = use_ssh_backup(site, sshd)
    backup_key = root / "id_backup"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hosting-to-backup", "-f", str(backup_key)],
                   check=True)
    site.config["roles"] = {"hosting": ["base", "monitoring"], "backup": ["base", "monitoring", "backup-jail"],
                            "backup_keys": [backup_key.with_suffix(".pub").read_text().strip()],
                            "monitoring_servers": ["198.51.100.250"], "smarthost": "198.51.100.251"}
    extra = site.config["xen_create_image"]["extra_args"]
    extra.remove(OFFLINE_MIRROR)
    extra += [f"--mirror={apt_proxy.mirror}", f"--apt_proxy={apt_proxy.url}"]
    site.write_config()
    try:
        r = site.run("create", "boot", "shop", "203.0.113.30", "--start", "--wait", "--yes", "--json", "--no-mail",
                     timeout=1800 + BOOT_TIMEOUT)
        yield site, r, state, backup_key
    finally:
        bootnet.stop_guests(state)
        from tests import sandbox

        sandbox.cleanup_leftovers(site.image_dir)
        # 2-3 GB of disk images: gone even when a test failed (the consoles and logs stay for a look)
        shutil.rmtree(site.image_dir, ignore_errors=True)
        for copy in state.glob("*.vmlinuz"):
            copy.unlink()
        for copy in state.glob("*.initrd"):
            copy.unlink()


def test_create_start_wait_then_a_backup_over_the_internal_network(booted, login_key):
    site, r, state, backup_key = booted
    assert r.returncode == 0, r.stderr[-4000:] + "\n" + bootnet.console_tail(state)
    res = json.loads(r.stdout)
    assert res["ok"]
    known_hosts = Path(site.config["ready"]["known_hosts"])
    for kind, address in (("hosting", "198.51.100.2"), ("backup", "192.0.2.2")):
        summary = {f["algorithm"]: f["fingerprint"] for f in res[kind]["summary"]["ssh_fingerprints"]}
        assert set(summary) == {"ECDSA", "ED25519", "RSA"}, summary        # its own full set
        ready = res["ready"][kind]
        assert ready["ok"] and ready["address"] == address and ready["ready_after_s"] > 0
        assert ready["verified"][0] == {"algorithm": "ED25519", "fingerprint": summary["ED25519"],
                                        "type": "ssh-ed25519"}
        assert {v["fingerprint"] for v in ready["verified"]} <= set(summary.values())
        assert f"[{kind}] ready" in r.stderr
    # the backup machine was checked from its own dom0 (the sshd): reached through SSH
    assert "ssh create" in (state / "calls.log").read_text()
    lines = known_hosts.read_text().splitlines()
    assert any(line.startswith("shop.hosting.example.de,198.51.100.2 ssh-ed25519 ") for line in lines)
    assert any(line.startswith("shop.backup.example.de,192.0.2.2 ssh-ed25519 ") for line in lines)

    # the recorded keys are there later too: show --json, list
    shown = json.loads(site.run("show", "shop", "--json").stdout)
    assert shown["readiness"] == "ready" and shown["hosting"]["host_keys"] == res["hosting"]["summary"][
        "ssh_fingerprints"]
    assert "created, ready" in site.run("list").stdout

    # the admin's first ssh is verified by xenpair's known_hosts lines alone
    h = guest_ssh(login_key, known_hosts, "198.51.100.2", "ip -4 -o addr show dev eth0; ip -4 -o addr show dev eth1")
    assert h.returncode == 0, h.stderr
    assert re.search(r"eth0\s+inet 198\.51\.100\.2/24", h.stdout), h.stdout
    assert re.search(r"eth1\s+inet 203\.0\.113\.30/24", h.stdout), h.stdout

    # from inside the hosting guest: restic over SFTP into the backup guest's jail, over the
    # internal networks, the backup guest's key checked with the line xenpair wrote
    key = backup_key.read_text()
    setup = ("umask 077; cat > /root/.ssh/id_backup; "
             f"printf '%s\\n' {shlex.quote(next(x for x in lines if x.startswith('shop.backup')))} "
             ">> /etc/ssh/ssh_known_hosts")
    assert guest_ssh(login_key, known_hosts, "198.51.100.2", setup, input=key).returncode == 0
    sftp = "ssh -i /root/.ssh/id_backup -o BatchMode=yes -o StrictHostKeyChecking=yes backupuser@192.0.2.2 -s sftp"
    restic = (f"export RESTIC_PASSWORD=boot-test; r() {{ restic --no-cache -o sftp.command={shlex.quote(sftp)} "
              "-r sftp:backupuser@192.0.2.2:/repo \"$@\"; }; r init && r backup /etc/hostname /etc/passwd && "
              "r snapshots --json")
    b = guest_ssh(login_key, known_hosts, "198.51.100.2", restic)
    assert b.returncode == 0, b.stdout[-2000:] + b.stderr[-2000:]
    assert json.loads(b.stdout.strip().splitlines()[-1])[0]["paths"] == ["/etc/hostname", "/etc/passwd"]

    # on the backup guest: the nrpe backup-age check, as nrpe runs it (user nagios), says OK
    check = ("c=$(sed -n 's/^command\\[check_backup\\]=//p' /etc/nagios/nrpe_local.cfg); "
             "su -s /bin/sh nagios -c \"$c\"")
    c = guest_ssh(login_key, known_hosts, "192.0.2.2", check)
    assert c.returncode == 0 and c.stdout.startswith("BACKUP OK"), c.stdout + c.stderr


def test_wait_refuses_a_key_other_than_the_summary_s(booted):
    site, r, state, _ = booted
    assert r.returncode == 0, "the pair did not boot (see the first test)"
    record = Path(str(site.hosting_csv) + ".machines.json")
    saved = record.read_text()
    data = json.loads(saved)
    keys = data["machines"]["shop.hosting.example.de"]["host_keys"]
    real = next(k for k in keys if k["algorithm"] == "ED25519")["fingerprint"]
    fake = "SHA256:" + "A" * 43
    for k in keys:
        if k["algorithm"] == "ED25519":
            k["fingerprint"] = fake
    record.write_text(json.dumps(data))
    try:
        w = site.run("wait", "shop", "--timeout", "120")
    finally:
        record.write_text(saved)
    assert w.returncode == 1
    assert "shop.hosting.example.de at 198.51.100.2 did NOT present the host key its install summary printed" \
        in w.stdout
    assert f"expected ED25519 {fake}" in w.stdout and f"offered {real}" in w.stdout
    assert "someone in the middle" in w.stdout
    assert "backup machine ready" in w.stdout                                # the other one is fine
    # and with the true record, the same pair is ready again
    assert site.run("wait", "shop", "--timeout", "120").returncode == 0
