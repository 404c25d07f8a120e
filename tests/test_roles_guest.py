"""The shipped roles, run on a real debootstrapped Debian bookworm root with xen-tools' real common.sh.

One backup machine root gets base, monitoring and backup-jail (the union of what both kinds
get); the checks read the tree, run the root's own sshd -t, and then use the jail for real:
that root's sshd on 127.0.0.1, SFTP with the backup key, a refused shell, and a restic backup
over sftp (restic and ssh from the root itself, as on the hosting machine). Packages come from
the replaying apt proxy (tests/aptproxy.py): nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests import guestroot
from xenpair.adapters.hosts import LocalHost
from xenpair.config import Config
from xenpair.core import roles

HOSTNAME, IP = "shop.backup.example.de", "192.168.30.5"


@pytest.fixture(scope="module")
def backup_key(tmp_path_factory) -> Path:
    key = tmp_path_factory.mktemp("key") / "id_backup"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@hosting-dom0", "-f", str(key)],
                   check=True)
    return key


@pytest.fixture(scope="module")
def guest(tmp_path_factory, real_rootfs, apt_proxy, backup_key):
    """(root, config, log, run_roles): a backup machine's root after the roles base, monitoring,
    backup-jail; run_roles() runs them all once more."""
    base = tmp_path_factory.mktemp("guest")
    root, log = base / "root", base / "roles.log"
    cfg = Config.model_validate({"roles": {
        "hosting": ["base", "monitoring"], "backup": ["base", "monitoring", "backup-jail"],
        "backup_keys": [backup_key.with_suffix(".pub").read_text().strip()],
        "monitoring_servers": ["192.168.150.2", "192.168.150.3"], "smarthost": "192.168.150.1::587",
        "mail_domain": "example.de", "root_alias": "admins@example.de", "git_email": "root@dom0.example.de"}})
    run = roles.for_machine(cfg, "backup", external_ip=False)
    roles.sync(LocalHost(), str(base / "roles"))
    guestroot.unpack(real_rootfs, root)
    try:
        guestroot.setup_apt(root, apt_proxy, log)
        env = dict(run.env, hostname=HOSTNAME, ip1=IP)

        def run_roles() -> None:
            for name in run.names:
                r = guestroot.run_role(base / "roles", name, root, env, log)
                assert r.returncode == 0, f"role {name} failed:\n" + log.read_text()[-3000:]
            assert apt_proxy.misses == [], "apt asked for something not recorded: re-run tests/tools/make-aptcache"

        run_roles()
        yield root, cfg, log, run_roles
    finally:
        guestroot.release(root)
        # 1.2 GB: pytest keeps its last three temp folders (roles.log stays for a look afterwards)
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def test_packages_of_all_three_roles_are_installed(guest):
    root, cfg, _, _ = guest
    r = cfg.roles
    wanted = [*r.packages.backup, *r.monitoring_packages, *r.backup_packages, "sudo"]
    assert [p for p in wanted if not guestroot.installed(root, p)] == []


def test_base(guest):
    root, _, log, _ = guest
    assert "LANG=en_US.UTF-8" in (root / "etc/default/locale").read_text()
    assert "en_US.utf8" in guestroot.chroot(root, "locale", "-a").stdout.split()
    assert "root: admins@example.de" in (root / "etc/aliases").read_text().splitlines()
    assert guestroot.chroot(root, "env", "HOME=/root", "git", "config", "--global", "user.email").stdout.strip() \
        == "root@dom0.example.de"
    profile = (root / "etc/profile.d/xenpair-login-mail.sh").read_text()
    assert "mail -s" in profile and "root" in profile
    assert subprocess.run(["sh", "-n", str(root / "etc/profile.d/xenpair-login-mail.sh")]).returncode == 0
    assert (root / "etc/.git").is_dir()                                    # etckeeper
    # xen-tools 4.9 wrote no bare gateway line, so the fix had nothing to do
    assert "removed the empty gateway" not in log.read_text()


def test_monitoring(guest):
    root, _, _, _ = guest
    munin = (root / "etc/munin/munin-node.conf").read_text().splitlines()
    assert f"host_name {HOSTNAME}" in munin
    assert "cidr_allow 192.168.150.2/32" in munin and "cidr_allow 192.168.150.3/32" in munin
    nrpe = (root / "etc/nagios/nrpe_local.cfg").read_text().splitlines()
    assert f"server_address={IP}" in nrpe and "allowed_hosts=127.0.0.1,::1,192.168.150.2,192.168.150.3" in nrpe
    for check in ("check_users", "check_load", "check_zombie_procs", "check_total_procs", "check_all_disks",
                  "check_ssh", "check_smtp", "check_ntp"):
        line = next(x for x in nrpe if x.startswith(f"command[{check}]="))
        plugin = line.split("=", 1)[1].split()[0]
        assert (root / plugin.lstrip("/")).is_file(), f"{check}: {plugin} is not installed"
        # run what can run in a chroot (check_disk would see the host's mount table, not the guest's)
        if check in ("check_users", "check_load", "check_zombie_procs", "check_total_procs"):
            r = guestroot.chroot(root, *line.split("=", 1)[1].split(), timeout=60)
            assert r.returncode in (0, 1, 2), f"{check}: {r.stdout}{r.stderr}"      # 3: bad arguments
    assert "command[check_backup]=/usr/bin/sudo /usr/local/lib/nagios/plugins/check_backup_age /backup/repo 26 50" \
        in nrpe
    assert guestroot.chroot(root, "visudo", "-c", "-f", "/etc/sudoers.d/xenpair-check-backup").returncode == 0
    exim = (root / "etc/exim4/update-exim4.conf.conf").read_text()
    assert "dc_eximconfig_configtype='satellite'" in exim and "dc_smarthost='192.168.150.1::587'" in exim
    assert "dc_readhost='example.de'" in exim
    generated = (root / "var/lib/exim4/config.autogenerated").read_text()
    assert "192.168.150.1::587" in generated                               # update-exim4.conf ran
    rk = (root / "etc/rkhunter.conf.local").read_text().splitlines()
    assert {"ALLOWHIDDENDIR=/etc/.git", "ALLOWHIDDENFILE=/etc/.etckeeper", "ALLOWHIDDENFILE=/etc/.gitignore"} <= set(rk)
    assert guestroot.chroot(root, "rkhunter", "--config-check").returncode == 0


def test_backup_jail_tree_and_sshd_config(guest, backup_key):
    root, _, _, _ = guest
    pw = next(x for x in (root / "etc/passwd").read_text().splitlines() if x.startswith("backupuser:"))
    uid, gid, home, shell = pw.split(":")[2], pw.split(":")[3], pw.split(":")[5], pw.split(":")[6]
    assert (home, shell) == ("/backup", "/usr/sbin/nologin")
    for d in ("backup", "backup/.ssh"):
        st = (root / d).stat()
        assert (st.st_uid, st.st_mode & 0o777) == (0, 0o755), d             # sshd's ChrootDirectory rules
    st = (root / "backup/repo").stat()
    assert (str(st.st_uid), str(st.st_gid), st.st_mode & 0o777) == (uid, gid, 0o700)
    keys = (root / "backup/.ssh/authorized_keys").read_text()
    assert keys == backup_key.with_suffix(".pub").read_text()
    (root / "run/sshd").mkdir(parents=True, exist_ok=True)                  # made at boot by the guest's tmpfiles
    r = guestroot.chroot(root, "/usr/sbin/sshd", "-t", "-f", "/etc/ssh/sshd_config")
    assert r.returncode == 0, r.stderr
    effective = guestroot.chroot(root, "/usr/sbin/sshd", "-T", "-C", "user=backupuser,host=h,addr=127.0.0.1").stdout
    for line in ("chrootdirectory /backup", "forcecommand internal-sftp", "subsystem sftp internal-sftp",
                 "allowtcpforwarding no", "x11forwarding no"):
        assert line in effective.splitlines()
    others = guestroot.chroot(root, "/usr/sbin/sshd", "-T", "-C", "user=root,host=h,addr=127.0.0.1").stdout
    assert "chrootdirectory none" in others.splitlines()                   # the Match is for backupuser only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jail_sshd(guest):
    """That root's own sshd, chrooted, on 127.0.0.1 (the backup machine as it would run)."""
    root, _, _, _ = guest
    (root / "run/sshd").mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(["chroot", str(root), "/usr/sbin/sshd", "-D", "-e", "-p", str(port),
                             "-o", "ListenAddress=127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    known = Path(str(root)) / "root/.ssh/known_hosts"
    known.parent.mkdir(mode=0o700, exist_ok=True)
    scan = subprocess.run(["ssh-keyscan", "-p", str(port), "-t", "ed25519", "127.0.0.1"],
                          capture_output=True, text=True, check=True)
    known.write_text(scan.stdout)
    yield port, known
    proc.terminate()
    proc.wait(timeout=10)


def ssh_opts(key: Path, known: Path, port: int) -> list[str]:
    return ["-i", str(key), "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-p", str(port)]


def test_sftp_works_and_is_confined(guest, jail_sshd, backup_key):
    port, known = jail_sshd
    opts = ssh_opts(backup_key, known, port)
    sftp = ["sftp", *[o if o != "-p" else "-P" for o in opts], "-b", "-", "backupuser@127.0.0.1"]
    r = subprocess.run(sftp, input="pwd\nls -a /\nput /etc/hostname /repo/probe\nls /repo\nrm /repo/probe\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Remote working directory: /" in r.stdout and "/repo/probe" in r.stdout
    assert "/.ssh" in r.stdout and "/etc" not in r.stdout.replace("/etc/hostname", "")
    # the real / of the machine is not reachable, and the jail's root is not writable
    for cmd in ("cd /etc", "ls /usr/bin", "put /etc/hostname /probe", "put /etc/hostname /.ssh/authorized_keys"):
        r = subprocess.run(sftp, input=cmd + "\n", capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, cmd
    r = subprocess.run(["ssh", *opts, "backupuser@127.0.0.1", "id"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "uid=" not in r.stdout
    assert "sftp connections only" in r.stdout + r.stderr


def test_restic_backup_over_sftp_and_the_age_check(guest, jail_sshd, backup_key):
    root, _, _, _ = guest
    port, known = jail_sshd
    inside = root / "root/.ssh/id_backup"
    inside.write_bytes(backup_key.read_bytes())
    inside.chmod(0o600)
    check = ["/usr/local/lib/nagios/plugins/check_backup_age", "/backup/repo", "26", "50"]
    assert guestroot.chroot(root, *check).returncode == 3                  # no repository yet: UNKNOWN
    ssh = " ".join(["ssh", *ssh_opts(Path("/root/.ssh/id_backup"), Path("/root/.ssh/known_hosts"), port),
                    "backupuser@127.0.0.1", "-s", "sftp"])
    env = {"RESTIC_PASSWORD": "test-only", "HOME": "/root", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    restic = ["env", *(f"{k}={v}" for k, v in env.items()), "restic", "--no-cache", "-o", f"sftp.command={ssh}",
              "-r", "sftp:backupuser@127.0.0.1:/repo"]
    r = guestroot.chroot(root, *restic, "init", timeout=120)
    assert r.returncode == 0, r.stderr
    r = guestroot.chroot(root, *restic, "backup", "/etc/hostname", "/etc/passwd", timeout=120)
    assert r.returncode == 0, r.stderr
    r = guestroot.chroot(root, *restic, "snapshots", "--json", timeout=120)
    assert r.returncode == 0 and "/etc/hostname" in r.stdout
    assert list((root / "backup/repo/snapshots").iterdir())                # written through the jail
    r = guestroot.chroot(root, *check)
    assert (r.returncode, r.stdout.split(" - ")[0]) == (0, "BACKUP OK"), r.stdout
    # as nrpe runs it: user nagios, through the sudo rule the role wrote
    r = guestroot.chroot(root, "runuser", "-u", "nagios", "--", "sudo", "-n", *check)
    assert r.returncode == 0 and r.stdout.startswith("BACKUP OK"), r.stdout + r.stderr
    old = time.time() - 30 * 3600
    for f in (root / "backup/repo/snapshots").iterdir():
        os.utime(f, (old, old))
    r = guestroot.chroot(root, *check)
    assert (r.returncode, r.stdout.split(" - ")[0]) == (1, "BACKUP WARNING"), r.stdout


def test_an_interactive_login_mails_root(guest):
    """The profile script as a login shell runs it (PS1 set); the mail really reaches the root's exim
    queue (the smarthost is unreachable here, so it stays queued)."""
    root, _, _, _ = guest
    r = guestroot.chroot(root, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "PS1=# ",
                         "SSH_CLIENT=192.0.2.7 50000 22", "sh", "-c", ". /etc/profile.d/xenpair-login-mail.sh; wait",
                         timeout=60)
    assert r.returncode == 0, r.stderr
    headers = "".join(p.read_text(errors="replace") for p in (root / "var/spool/exim4/input").glob("*-H"))
    assert "shell login of root from 192.0.2.7" in headers
    assert "root@" in guestroot.chroot(root, "exim4", "-bp").stdout
    # a non-interactive shell (ssh host command, cron) sends nothing
    before = len(list((root / "var/spool/exim4/input").glob("*-H")))
    guestroot.chroot(root, "env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", ". /etc/profile.d/xenpair-login-mail.sh")
    assert len(list((root / "var/spool/exim4/input").glob("*-H"))) == before


def test_running_the_roles_again_changes_nothing(guest):
    """A rebuild or repair runs them on a fresh root, but a role must not depend on that."""
    root, _, _, run_roles = guest
    files = ["etc/aliases", "etc/locale.gen", "etc/default/locale", "etc/munin/munin-node.conf",
             "etc/nagios/nrpe_local.cfg", "etc/exim4/update-exim4.conf.conf", "etc/rkhunter.conf.local",
             "etc/ssh/sshd_config", "etc/ssh/sshd_config.d/xenpair-backup-jail.conf", "backup/.ssh/authorized_keys",
             "etc/passwd", "etc/sudoers.d/xenpair-check-backup", "root/.gitconfig"]
    before = {f: (root / f).read_bytes() for f in files}
    run_roles()
    assert {f: (root / f).read_bytes() for f in files} == before
    assert guestroot.chroot(root, "/usr/sbin/sshd", "-t").returncode == 0
