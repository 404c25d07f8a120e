"""Issue 10 item 10: every file that holds a root password is 0600, xen-tools' log included, on
both hosts (the backup built over the real sshd). /var/log/xen-tools is the sandbox's."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.conftest import use_ssh_backup

LOGS = Path("/var/log/xen-tools")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_xen_tools_logs_and_the_run_log_are_private(tiny_site, sshd):
    use_ssh_backup(tiny_site, sshd)
    LOGS.chmod(0o750)                                       # as xen-create-image makes it
    assert tiny_site.run("create", "small", "pw", "--yes", "--no-start").returncode == 0
    assert mode(LOGS) == 0o700
    for fqdn in ("pw.hosting.example.de", "pw.backup.example.de"):
        assert "Root Password" in (LOGS / f"{fqdn}.log").read_text()
        assert mode(LOGS / f"{fqdn}.log") == 0o600
    # a rebuild rotates the old log to <fqdn>.0.log: both stay private
    assert tiny_site.run("create", "small", "pw", "--overwrite", "--rebuild-backup", "--yes",
                         "--no-start").returncode == 0
    for fqdn in ("pw.hosting.example.de", "pw.backup.example.de"):
        assert mode(LOGS / f"{fqdn}.log") == mode(LOGS / f"{fqdn}.0.log") == 0o600
    run_logs = list((tiny_site.root / "xenpair-logs").iterdir())
    assert run_logs and all(mode(p) == 0o600 for p in run_logs) and mode(tiny_site.root / "xenpair-logs") == 0o700
