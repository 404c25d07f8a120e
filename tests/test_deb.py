"""The packages `make deb` builds from the committed tree (git archive HEAD; `make test` builds
them first, as CI does): lintian on them, and what they hold: the command on PATH, conffiles,
state and log folders, man pages and completion made from this CLI, the dependencies, the web
units."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def debs() -> dict[str, Path]:
    """Built by `make test` before the tests (`make deb` of the committed tree into
    $XENPAIR_TEST_DEBS): the build fetches from PyPI, and the tests have no network."""
    where = os.environ.get("XENPAIR_TEST_DEBS")
    if not where or not (Path(where) / ".built").exists():
        pytest.fail("no built packages: run 'make test' (it runs 'make deb' of this commit first)")
    found = {p.name.split("_")[0]: p for p in Path(where).glob("*.deb")}
    assert set(found) == {"xenpair", "xenpair-web"}, found
    assert found["xenpair"].name.endswith("_amd64.deb") and found["xenpair-web"].name.endswith("_all.deb")
    return found


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout


def contents(deb: Path) -> dict[str, str]:
    """path -> the listing line (mode, owner, link target)."""
    lines = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    return {line.split(None, 5)[5].split(" -> ")[0].removeprefix("."): line for line in lines.splitlines()}


def test_lintian_has_no_error_and_no_warning(debs):
    r = subprocess.run(["lintian", "--fail-on", "none", *map(str, debs.values())], capture_output=True, text=True,
                       timeout=600)
    tags = [line for line in r.stdout.splitlines() if line[:2] in ("E:", "W:")]
    assert tags == [], "\n".join(tags[:40])


def test_the_xenpair_package(debs, tmp_path):
    deb = debs["xenpair"]
    files = contents(deb)
    assert "-> /opt/venvs/xenpair/bin/xenpair" in files["/usr/bin/xenpair"] or \
        "-> ../../opt/venvs/xenpair/bin/xenpair" in files["/usr/bin/xenpair"]
    for d in ("/var/lib/xenpair/", "/var/log/xenpair/", "/opt/venvs/xenpair/"):
        assert d in files, d
    assert "/usr/share/bash-completion/completions/xenpair" in files
    assert "/etc/logrotate.d/xenpair" in files
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path / "control")], check=True)
    assert (tmp_path / "control/conffiles").read_text().split() == [
        "/etc/logrotate.d/xenpair", "/etc/xenpair/config.yaml", "/etc/xenpair/packages.yaml"]
    depends = field(deb, "Depends")
    for needed in ("xen-tools", "openssh-client", "debootstrap", "e2fsprogs", "python3 (>= 3.11)"):
        assert needed in depends, (needed, depends)
    everything = depends + field(deb, "Recommends") + field(deb, "Suggests")
    for never in ("qemu", "chromium", "pytest", "ganeti-"):
        assert never not in everything
    # man pages and completion: exactly what this tree's CLI makes
    import gzip

    from xenpair.packaging import man_pages

    def body(text: str) -> str:         # without the header line (version and build date)
        return "\n".join(line for line in text.splitlines() if not line.startswith(".TH "))

    made = {p.name: body(p.read_text()) for p in man_pages(tmp_path / "man", "0", "2026-01-01")}
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "root")], check=True)
    shipped = {p.name.removesuffix(".gz"): body(gzip.decompress(p.read_bytes()).decode())
               for p in (tmp_path / "root/usr/share/man/man1").glob("*.1.gz")}
    assert "xenpair.1" in made and shipped == made
    from typer.completion import get_completion_script

    assert (tmp_path / "root/usr/share/bash-completion/completions/xenpair").read_text() == \
        get_completion_script(prog_name="xenpair", complete_var="_XENPAIR_COMPLETE", shell="bash")


def test_the_xenpair_web_package(debs):
    deb = debs["xenpair-web"]
    files = contents(deb)
    for unit in ("xenpair-web.service", "xenpair-worker.service"):
        assert f"/lib/systemd/system/{unit}" in files
    assert "/var/lib/xenpair/web/" in files
    depends = field(deb, "Depends")
    assert "xenpair (= " in depends and "adduser" in depends


@pytest.fixture
def bookworm(tmp_path, real_rootfs, apt_proxy):
    """A fresh bookworm root (the cached debootstrapped one) in the tests' private mount
    namespace, its apt pointed at the replaying proxy: apt resolves Depends offline."""
    from tests import guestroot

    root = tmp_path / "root"
    guestroot.unpack(real_rootfs, root)
    try:
        guestroot.setup_apt(root, apt_proxy, tmp_path / "apt.log")
        assert guestroot.chroot(root, "apt-get", "update", "-q").returncode == 0
        yield root
    finally:
        guestroot.release(root)             # raises while anything is still mounted below it
        shutil.rmtree(root, ignore_errors=True)          # 1.2 GB with the packages installed


def sh(root: Path, script: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["chroot", str(root), "sh", "-c", script], capture_output=True, text=True, timeout=900,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
                            "HOME": "/root", "LANG": "C.UTF-8"})
    if check:
        assert r.returncode == 0, (script, r.stdout[-3000:], r.stderr[-3000:])
    return r


def repack(deb: Path, out: Path, version: str, config_extra: str = "") -> Path:
    """The next build of DEB: another version (and, with CONFIG_EXTRA, another config.yaml)."""
    tree = out / f"tree-{version}"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN/control"
    control.write_text("".join(f"Version: {version}\n" if line.startswith("Version:") else line
                               for line in control.read_text().splitlines(keepends=True)))
    if config_extra:
        conf = tree / "etc/xenpair/config.yaml"
        conf.write_text(conf.read_text() + config_extra)
        sums = tree / "DEBIAN/md5sums"
        import hashlib

        sums.write_text("".join(f"{hashlib.md5(conf.read_bytes()).hexdigest()}  etc/xenpair/config.yaml\n"
                                if line.endswith(" etc/xenpair/config.yaml\n") else line
                                for line in sums.read_text().splitlines(keepends=True)))
    target = out / f"xenpair_{version}_amd64.deb"
    subprocess.run(["dpkg-deb", "-Zxz", "-b", str(tree), str(target)], check=True, capture_output=True)
    return target


def test_install_use_upgrade_remove_and_purge_in_a_fresh_bookworm(debs, bookworm, tmp_path):
    root = bookworm
    (root / "tmp/debs").mkdir()
    for deb in debs.values():
        shutil.copy(deb, root / "tmp/debs")
    # apt resolves Depends (xen-tools, debootstrap, python3, ...) from the recorded answers
    sh(root, "apt-get install -y -q --no-install-recommends /tmp/debs/xenpair_*.deb /tmp/debs/xenpair-web_*.deb "
             "man-db bash-completion")
    assert "Usage: xenpair" in sh(root, "xenpair --help").stdout
    assert sh(root, "man -w xenpair").stdout.strip() == "/usr/share/man/man1/xenpair.1.gz"
    assert "--overwrite" in sh(root, "MANWIDTH=100 man xenpair-create 2>/dev/null").stdout
    assert sh(root, "stat -c %a /var/log/xenpair /var/lib/xenpair").stdout.split() == ["700", "700"]
    assert sh(root, "stat -c %U /var/lib/xenpair/web").stdout.strip() == "xenpair-web"
    # completion: commands, package names from /etc/xenpair/packages.yaml, pairs from the registry
    (root / "root/xen_hosting_ips.csv").write_text(
        "IP;Name;Package;external IP;Date created;State\n"
        "192.168.20.2;shop.hosting.example.de;package1;;2026-12-03T00:00:00+00:00;created\n")
    complete = ". /usr/share/bash-completion/completions/xenpair; COMP_WORDS=({words}); COMP_CWORD={n}; " \
               "_xenpair_completion xenpair; echo \"${{COMPREPLY[@]}}\""

    def completions(words: str, n: int) -> list[str]:
        return sh(root, f"bash -c '{complete.format(words=words, n=n)}'").stdout.split()
    assert completions("xenpair cr", 1) == ["create"]
    assert completions("xenpair create pack", 2) == ["package1", "package2", "package3"]
    assert completions("xenpair destroy s", 2) == ["shop"]
    # a machine without Xen (no LVM volume group, no xl): check names what is missing, exit 1
    r = sh(root, "xenpair check --json", check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)
    found = {c["check"]: c for c in json.loads(r.stdout)}
    assert found["hosting dom0 (local) xen-create-image"]["ok"]               # xen-tools came as a Depends
    assert "LVM volume group vg0 not found" in found["hosting dom0 (local) storage"]["detail"]
    assert "start, stop and --start will not work there" in found["hosting dom0 (local) toolstack"]["detail"]

    # an upgrade keeps the admin's edit: the same conffile in the new build, and a changed one
    # (dpkg keeps the admin's with --force-confold, the package's beside it as .dpkg-dist)
    sh(root, "echo 'log_dir: /var/log/xenpair-site   # edited' >>/etc/xenpair/config.yaml")
    for version, extra, opts in (("0.1.0+2", "", ""),
                                 ("0.1.0+3", "# a new comment of the next version\n",
                                  "-o Dpkg::Options::=--force-confold")):
        new = repack(debs["xenpair"], tmp_path, version, extra)
        shutil.copy(new, root / "tmp/debs")
        sh(root, f"apt-get install -y -q --no-install-recommends {opts} /tmp/debs/{new.name} "
                 f"/tmp/debs/xenpair-web_*.deb || apt-get install -y -q {opts} /tmp/debs/{new.name}")
        assert sh(root, "dpkg-query -W -f '${Version}' xenpair").stdout == version
        assert "log_dir: /var/log/xenpair-site   # edited" in (root / "etc/xenpair/config.yaml").read_text()
    assert (root / "etc/xenpair/config.yaml.dpkg-dist").exists()

    # remove keeps the conffiles; purge removes them, and the state folders only where empty
    (root / "var/log/xenpair/shop-20261203.log").write_text("a run log\n")
    # a site that keeps its registry below the state folder (for the web pages): never purged
    (root / "var/lib/xenpair/registry").mkdir()
    shutil.copy(root / "root/xen_hosting_ips.csv", root / "var/lib/xenpair/registry/xen_hosting_ips.csv")
    sh(root, "apt-get remove -y -q xenpair-web xenpair")
    assert not (root / "usr/bin/xenpair").exists() and (root / "etc/xenpair/config.yaml").exists()
    r = sh(root, "apt-get purge -y -q xenpair-web xenpair")
    assert not (root / "etc/xenpair/config.yaml").exists() and not (root / "etc/xenpair").exists()
    assert (root / "var/lib/xenpair/registry/xen_hosting_ips.csv").exists()   # a registry: kept, and said
    assert "kept /var/lib/xenpair" in r.stdout + r.stderr
    assert (root / "var/log/xenpair/shop-20261203.log").exists()           # not empty: kept, and said
    assert "kept /var/log/xenpair" in r.stdout + r.stderr
    assert (root / "root/xen_hosting_ips.csv").exists()                    # the registry is never touched
