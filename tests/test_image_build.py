"""image build and refresh for real: debootstrap and apt in a private mount namespace, the copy to
the backup dom0 over the real sshd, and what an interrupted or failed build leaves (nothing).

The full debootstrap of the test cache (`make test` runs `xenpair image build` once) is the
successful build; here a build is interrupted (SIGTERM) or fails against mirrors on 127.0.0.1.
The refresh upgrades a package served by a local apt repository.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time

import pytest

from tests.conftest import use_ssh_backup
from tests.imagetools import LocalRepo, SilentMirror, publish
from tests.sshd import Sshd
from xenpair.adapters import debootstrap


def _leftovers(golden):
    """What a build may leave: work folders, mounts, processes naming the store, a held lock."""
    found = [p.name for p in golden.iterdir() if p.name.startswith(".")] if golden.exists() else []
    found = [f for f in found if f != ".lock"]
    found += [line for line in open("/proc/self/mounts").read().splitlines() if str(golden) in line]
    ps = subprocess.run(["pgrep", "-a", "-f", str(golden)], capture_output=True, text=True).stdout
    found += ps.splitlines()
    if (golden / ".lock").exists():
        fd = os.open(golden / ".lock", os.O_WRONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            found.append("the lock is held")
        finally:
            os.close(fd)
    return found


def test_a_build_interrupted_by_sigterm_leaves_nothing(tiny_site):
    """debootstrap asks for the mirror through images.apt_proxy, which never answers: SIGTERM then.
    (Without the proxy, mirror.invalid would fail at once: this namespace has no DNS.)"""
    golden = tiny_site.root / "golden"
    mirror = SilentMirror()
    tiny_site.config["images"]["apt_proxy"] = mirror.url.removesuffix("/debian")
    tiny_site.write_config()
    try:
        proc = tiny_site.popen("image", "build", "bookworm", "--mirror", "http://mirror.invalid/debian")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not mirror.conns:     # debootstrap is asking the mirror
            time.sleep(0.1)
        assert mirror.conns, proc.communicate(timeout=30)
        assert subprocess.run(["pgrep", "-f", f"debootstrap .*{golden}/.build-"]).returncode == 0
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        mirror.close()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted by SIGTERM" in err
    assert _leftovers(golden) == []
    assert list((golden).iterdir()) == [golden / ".lock"]


def test_a_failed_build_says_why_and_leaves_nothing(tiny_site):
    golden = tiny_site.root / "golden"
    r = tiny_site.run("image", "build", "bookworm", "--mirror", "http://127.0.0.1:9/debian")
    assert r.returncode == 1
    assert "debootstrap failed (exit 1); nothing was stored" in r.stderr
    log = r.stderr.split("where: ")[1].split("\n")[0]
    assert "127.0.0.1:9" in open(log).read()
    assert _leftovers(golden) == []


@pytest.fixture
def backup_store(tmp_path):
    """The backup dom0 over the real sshd, with a store of its own at the same images.dir path."""
    own = tmp_path / "backup-golden"
    own.mkdir(mode=0o700)
    (tmp_path / "golden").mkdir(mode=0o700)
    server = Sshd(tmp_path / "sshd", binds={own: str(tmp_path / "golden")})
    yield server, own
    server.stop()


def _source_image(site, rootfs, repo: LocalRepo, work) -> str:
    """The cached bookworm root with xenpair-testpkg 1.0 installed and the local repository as its
    apt source, stored as an image (the one refresh starts from)."""
    root = work / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-xf", str(rootfs)], check=True)
    deb = repo.publish("1.0")
    shutil.copy(deb, root / "tmp/testpkg.deb")
    subprocess.run(["chroot", str(root), "dpkg", "-i", "/tmp/testpkg.deb"], check=True, capture_output=True)
    (root / "tmp/testpkg.deb").unlink()
    (root / "etc/apt/sources.list").write_text(repo.sources_line)
    (root / "etc/apt/sources.list.d/xenpair.list").unlink()      # updates and security: not here
    packages = debootstrap.packages(str(root))
    assert packages["xenpair-testpkg"] == "1.0"
    tar = work / "source.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."], check=True)
    shutil.rmtree(root)
    m = publish(site.root / "golden", tar, "bookworm", days_old=10)
    # the manifest lists what is in it, as a build's does
    path = site.root / "golden/bookworm" / f"{m.version}.json"
    data = json.loads(path.read_text())
    data["packages"] = packages
    path.write_text(json.dumps(data))
    tar.unlink()
    return m.version


def _member(tar, name: str) -> str:
    with tarfile.open(tar) as t:
        return t.extractfile(name).read().decode()


def test_refresh_upgrades_a_package_and_copies_to_the_backup_dom0(real_site, real_rootfs, tiny_rootfs, backup_store,
                                                                  tmp_path):
    sshd, backup_golden = backup_store
    x = real_site.config["xen_create_image"]
    x["extra_args"] = [a for a in x["extra_args"] if not a.startswith("--install-")]
    site = use_ssh_backup(real_site, sshd)
    golden = site.root / "golden"
    site.config["images"]["keep"] = 1
    site.write_config()
    repo = LocalRepo(tmp_path / "repo")
    try:
        oldest = publish(golden, tiny_rootfs, "bookworm", days_old=20).version    # pruned: images.keep 1
        old = _source_image(site, real_rootfs, repo, tmp_path)
        repo.publish("2.0")

        plan = site.run("image", "refresh", "--dry-run")
        assert plan.returncode == 0, plan.stderr
        assert f"unpack bookworm {old} (10.0 days old)" in plan.stdout
        r = site.run("image", "refresh", "--json")
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        new = res["version"]
        assert new > old and res["source"] == f"refresh of {old}"
        assert res["changed"] == {"xenpair-testpkg": ["1.0", "2.0"]}
        assert set(res["stored"]) == {"local", f"root@127.0.0.1:{sshd.port}"}
        assert res["removed"] == {"local": [oldest], f"root@127.0.0.1:{sshd.port}": []}
        assert not (golden / "bookworm" / f"{oldest}.tar").exists()

        tar = golden / "bookworm" / f"{new}.tar"
        assert _member(tar, "./usr/share/xenpair-testpkg/version") == "2.0\n"
        with tarfile.open(tar) as t:
            names = t.getnames()
            assert not [n for n in names if "/etc/ssh/ssh_host_" in n]
            assert t.extractfile("./etc/machine-id").read() == b""
            assert "./usr/sbin/policy-rc.d" not in names
        manifest = json.loads((golden / "bookworm" / f"{new}.json").read_text())
        assert manifest["packages"]["xenpair-testpkg"] == "2.0" and len(manifest["packages"]) > 150
        # the backup dom0's own store got the very same file, checked there; the old one stays here
        assert sorted(p.name for p in backup_golden.joinpath("bookworm").iterdir()) == [f"{new}.json", f"{new}.tar"]
        assert (backup_golden / "bookworm" / f"{new}.tar").stat().st_size == tar.stat().st_size
        rows = json.loads(site.run("image", "list", "--json").stdout)
        assert [(r["kind"], r["version"], r["on_both"]) for r in rows] == [
            ("hosting", old, False), ("hosting", new, True), ("backup", new, True)]
        assert _leftovers(golden) == [] and _leftovers(backup_golden) == []

        # nothing to upgrade: no new version, the image counts as current again on both dom0s
        again = site.run("image", "refresh")
        assert again.returncode == 0, again.stderr
        assert f"bookworm {new} is current: nothing to upgrade, no new version" in again.stdout
        for store in (golden, backup_golden):
            checked = json.loads((store / "bookworm" / f"{new}.json").read_text())["checked"]
            assert checked and checked > manifest["created"]
        check = site.run("check")
        assert "both hold bookworm " + new in check.stdout, check.stdout
    finally:
        repo.close()
        shutil.rmtree(golden, ignore_errors=True)
        shutil.rmtree(backup_golden, ignore_errors=True)
