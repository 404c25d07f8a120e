"""One pair, end to end, with the site roles on: the real CLI, the real xen-create-image with all
its bookworm hooks and xenpair's roles, the backup dom0 over the real sshd, Icinga files on the
dom0. The guests' apt goes through --apt_proxy to the replaying proxy (never beyond 127.0.0.1)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import OFFLINE_MIRROR
from tests.test_create_e2e import mounted
from tests.test_icinga import HOSTGROUPS


def dpkg_installed(root: Path) -> set[str]:
    out, name = set(), None
    for line in (root / "var/lib/dpkg/status").read_text().splitlines():
        if line.startswith("Package: "):
            name = line.split()[1]
        elif line == "Status: install ok installed":
            out.add(name)
    return out


def test_pair_with_roles_on_the_real_xen_create_image(ssh_real_site, apt_proxy, tmp_path):
    site = ssh_real_site
    key = tmp_path / "id_backup"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    icinga = tmp_path / "icinga"
    icinga.mkdir()
    (icinga / "hostgroups_icinga.cfg").write_text(HOSTGROUPS)
    site.config["roles"] = {"hosting": ["base", "monitoring"], "backup": ["base", "monitoring", "backup-jail"],
                            "backup_keys": [key.with_suffix(".pub").read_text().strip()],
                            "icinga": {"objects_dir": str(icinga)}}
    extra = site.config["xen_create_image"]["extra_args"]
    extra.remove(OFFLINE_MIRROR)
    extra += [f"--mirror={apt_proxy.mirror}", f"--apt_proxy={apt_proxy.url}"]
    site.write_config()

    r = site.run("create", "big", "shop", "203.0.113.30", "--yes", "--json", "--no-mail", timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res["ok"] and apt_proxy.misses == []
    assert res["hosting"]["roles"] == ["xenpair-external-ip", "base", "monitoring", "xenpair-identity"]
    log = Path(res["run_log"]).read_text()
    for line in ("xenpair-base: locale en_US.UTF-8", "xenpair-monitoring: nrpe: on 192.168.20.2",
                 "xenpair-monitoring: nrpe: on 192.168.30.2", "xenpair-backup-jail: backupuser jailed in /backup",
                 "xenpair-external-ip: 203.0.113.30 on eth1"):
        assert line in log, line
    assert (site.root / "roles" / "backup-jail").stat().st_mode & 0o777 == 0o755

    with mounted(site.image_dir / "shop.hosting.example.de" / "disk.img") as root:
        assert {"restic", "munin-node", "nagios-nrpe-server", "etckeeper"} <= dpkg_installed(root)
        assert "server_address=192.168.20.2" in (root / "etc/nagios/nrpe_local.cfg").read_text()
        assert "check_backup" not in (root / "etc/nagios/nrpe_local.cfg").read_text()
        assert "iface eth1 inet static\n address 203.0.113.30" in (root / "etc/network/interfaces").read_text()
        assert not (root / "backup").exists()
    with mounted(site.image_dir / "shop.backup.example.de" / "disk.img") as root:
        assert {"restic", "munin-node", "exim4-daemon-light", "rkhunter"} <= dpkg_installed(root)
        assert (root / "etc/ssh/sshd_config.d/xenpair-backup-jail.conf").is_file()
        assert (root / "backup/.ssh/authorized_keys").read_text() == key.with_suffix(".pub").read_text()
        assert "check_backup" in (root / "etc/nagios/nrpe_local.cfg").read_text()
        assert not (root / "usr/sbin/policy-rc.d").exists()               # daemons may start at boot

    for kind in ("hosting", "backup"):
        reg = res["registered"][kind]
        assert reg["problem"] is None and reg["member_added"], reg
        assert f"host_name  shop.{kind}.example.de" in (icinga / f"shop.{kind}.example.de_icinga.cfg").read_text()
    groups = (icinga / "hostgroups_icinga.cfg").read_text()
    assert "web1.hosting.example.de,shop.hosting.example.de" in groups
    assert "web2.backup.example.de,shop.backup.example.de" in groups
    assert (icinga / "hostgroups_icinga.cfg.bak").exists()
