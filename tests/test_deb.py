"""The packages `make deb` builds from the committed tree (git archive HEAD; `make test` builds
them first, as CI does): lintian on them, and what they hold: the command on PATH, conffiles,
state and log folders, man pages and completion made from this CLI, the dependencies, the web
units."""

from __future__ import annotations

import os
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
    from xenpair.packaging import man_pages

    made = {p.name for p in man_pages(tmp_path / "man", "0", "2026-01-01")}
    shipped = {Path(p).name.removesuffix(".gz") for p in files if p.startswith("/usr/share/man/man1/")}
    assert shipped == made and "xenpair.1" in made


def test_the_xenpair_web_package(debs):
    deb = debs["xenpair-web"]
    files = contents(deb)
    for unit in ("xenpair-web.service", "xenpair-worker.service"):
        assert f"/lib/systemd/system/{unit}" in files
    assert "/var/lib/xenpair/web/" in files
    depends = field(deb, "Depends")
    assert "xenpair (= " in depends and "adduser" in depends
