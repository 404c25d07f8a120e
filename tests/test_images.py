"""Golden images: which image a build installs from, list, remove, and what is refused.

The images here are the tiny rootfs stored through xenpair's own receive path (tests/imagetools);
builds from them are real xen-create-image runs. The real debootstrap build and the refresh are
in test_image_build.py.
"""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from tests.imagetools import publish

DIST = "xenpairtiny"


@pytest.fixture
def image_site(tiny_site):
    """A tiny site whose builds install from images (no --install-method in extra_args)."""
    x = tiny_site.config["xen_create_image"]
    x["extra_args"] = [a for a in x["extra_args"] if not a.startswith("--install-")]
    tiny_site.write_config()
    tiny_site.golden = tiny_site.root / "golden"
    return tiny_site


def _plan(site, *args):
    r = site.run("create", "small", "shop", *args, "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["plan"]


def _argv(plan, kind):
    return next(s for s in plan["steps"] if "commands" in s)["commands"][kind]["argv"]


def test_create_installs_from_the_newest_image_on_both_dom0s(image_site, tiny_rootfs):
    publish(image_site.golden, tiny_rootfs, DIST, days_old=2, version="20261101T000000Z")
    new = publish(image_site.golden, tiny_rootfs, DIST, days_old=1, version="20261102T000000Z")
    plan = _plan(image_site)
    tar = f"{image_site.golden}/{DIST}/{new.version}.tar"
    for kind in ("hosting", "backup"):
        image = plan["summary"]["images"][kind]
        assert image["image"]["version"] == new.version and image["warning"] is None
        argv = _argv(plan, kind)
        i = argv.index("--install-method=tar")
        assert argv[i + 1] == f"--install-source={tar}" and i < argv.index("--nohosts")
    text = image_site.run("create", "small", "shop", "--dry-run").stdout
    assert f"installs from image {DIST} {new.version} (1.0 days old, sha256 {new.sha256[:12]}" in text

    r = image_site.run("create", "small", "shop", "--yes", "--no-mail")
    assert r.returncode == 0, r.stderr
    assert "shop.hosting.example.de;small" in image_site.hosting_csv.read_text()
    assert (image_site.image_dir / "shop.hosting.example.de" / "disk.img").is_file()


def test_without_an_image_xen_create_image_installs_as_it_would(image_site):
    plan = _plan(image_site)
    image = plan["summary"]["images"]["hosting"]
    assert image["image"] is None and "xen-create-image's own install method" in image["install"]
    assert not any(a.startswith("--install-") for a in _argv(plan, "hosting"))

    image_site.config["images"]["required"] = True
    image_site.write_config()
    r = image_site.run("create", "small", "shop", "--yes", "--no-mail")
    assert r.returncode == 2
    assert f"no image of {DIST} in {image_site.golden} on local (images.required is true)" in r.stderr
    assert f"xenpair image build {DIST}" in r.stderr
    assert not image_site.hosting_csv.exists()


def test_extra_args_with_an_install_method_win(tiny_site, tiny_rootfs):
    publish(tiny_site.root / "golden", tiny_rootfs, DIST)
    plan = _plan(tiny_site)
    assert "images not used" in plan["summary"]["images"]["hosting"]["install"]
    assert sum(a.startswith("--install-method") for a in _argv(plan, "hosting")) == 1


def test_a_stale_image_is_used_with_a_warning_or_refused_when_required(image_site, tiny_rootfs):
    old = publish(image_site.golden, tiny_rootfs, DIST, days_old=9)
    r = image_site.run("create", "small", "shop", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"warning: image {DIST} {old.version} is 9.0 days old (images.max_age_days 7): refresh it: " \
           "xenpair image refresh" in " ".join(r.stdout.split())
    check = image_site.run("check")
    assert f"warn  hosting dom0 (local) images: {DIST} {old.version}, 9.0 days old" in check.stdout

    image_site.config["images"]["required"] = True
    image_site.write_config()
    r = image_site.run("create", "small", "shop", "--yes", "--no-mail")
    assert r.returncode == 2 and "9.0 days old (images.max_age_days 7) (images.required is true)" in r.stderr
    assert not image_site.hosting_csv.exists()


def test_an_image_that_no_longer_matches_its_manifest_is_refused_before_anything(image_site, tiny_rootfs):
    m = publish(image_site.golden, tiny_rootfs, DIST)
    tar = image_site.golden / DIST / f"{m.version}.tar"
    with open(tar, "r+b") as f:           # same size, one byte changed: only the checksum sees it
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    for args in (["create", "small", "shop", "--yes", "--no-mail"], ["create", "small", "shop", "--dry-run"]):
        r = image_site.run(*args)
        assert r.returncode == 2, r.stderr
        assert f"image {DIST} {m.version} on local does not match its manifest: sha256" in r.stderr
        assert f"expected {m.sha256}" in r.stderr and f"where: host local: {tar}" in r.stderr
        assert "nothing was reserved or built" in r.stderr
    assert not image_site.hosting_csv.exists() and not image_site.image_dir.exists()
    check = image_site.run("check")
    assert check.returncode == 1 and "does not match its manifest" in check.stdout


@pytest.mark.parametrize("damage, message", [
    ("manifest", "invalid image manifest: sha256: String should match pattern"),
    ("size", "is 10 bytes, its manifest says"),
    ("mode", "writable by other users (mode 777)"),
])
def test_damaged_or_untrusted_stores_are_refused(image_site, tiny_rootfs, damage, message):
    m = publish(image_site.golden, tiny_rootfs, DIST)
    base = image_site.golden / DIST / m.version
    if damage == "manifest":
        data = json.loads(base.with_suffix(".json").read_text())
        data["sha256"] = "$(reboot)"
        base.with_suffix(".json").write_text(json.dumps(data))
    elif damage == "size":
        base.with_suffix(".tar").write_bytes(b"0123456789")
    else:
        os.chmod(image_site.golden / DIST, 0o777)
    for args in (["create", "small", "shop", "--yes", "--no-mail"], ["image", "list"]):
        r = image_site.run(*args)
        assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not image_site.hosting_csv.exists()


def test_list_and_remove(image_site, tiny_rootfs):
    r = image_site.run("image", "list")
    assert r.returncode == 0 and f"no images in {image_site.golden}" in r.stdout
    a = publish(image_site.golden, tiny_rootfs, DIST, version="20261101T000000Z")
    b = publish(image_site.golden, tiny_rootfs, DIST, version="20261102T000000Z")
    rows = json.loads(image_site.run("image", "list", "--json").stdout)
    assert [(r["version"], r["host"], r["on_both"], r["size"]) for r in rows] == [
        (a.version, "local", True, a.size), (b.version, "local", True, b.size)]
    text = image_site.run("image", "list").stdout
    assert f"local                  {DIST} {b.version}" in text and b.sha256[:12] in text

    plan = image_site.run("image", "remove", DIST, a.version, "--dry-run")
    assert f"remove {DIST} {a.version} from local:{image_site.golden}/{DIST}/" in plan.stdout
    assert (image_site.golden / DIST / f"{a.version}.tar").exists()
    r = image_site.run("image", "remove", DIST, a.version)
    assert r.returncode == 0 and f"removed {DIST} {a.version} from local" in r.stdout
    assert sorted(p.name for p in (image_site.golden / DIST).iterdir()) == [f"{b.version}.json", f"{b.version}.tar"]
    r = image_site.run("image", "remove", DIST, a.version)
    assert r.returncode == 2 and f"no image {DIST} {a.version} on both dom0s" in r.stderr
    r = image_site.run("image", "remove", DIST, "../../etc")
    assert r.returncode == 2 and "is not an image version" in r.stderr


def test_writers_wait_for_nobody_they_refuse(image_site, tiny_rootfs):
    """Two image commands at once on one store: the second says who holds the lock, changes nothing."""
    m = publish(image_site.golden, tiny_rootfs, DIST)
    fd = os.open(image_site.golden / ".lock", os.O_WRONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        build = image_site.run("image", "build", DIST, "--mirror", "http://127.0.0.1:9/debian")
        remove = image_site.run("image", "remove", DIST, m.version)
    finally:
        os.close(fd)
    for r in (build, remove):
        assert r.returncode == 1 and f"{image_site.golden}/.lock" in r.stderr, r.stderr
    assert (image_site.golden / DIST / f"{m.version}.tar").exists()
    assert [p for p in image_site.golden.iterdir() if p.name.startswith(".build-")] == []


def test_image_commands_check_their_arguments(image_site):
    for args, message in ((["image", "build", "Bookworm;x"], "is not a distribution name"),
                          (["image", "build", "--host", "all"], "--host 'all': use hosting, backup or both"),
                          (["image", "build", "--mirror", "ftp://x"], "--mirror: 'ftp://x' is not an http"),
                          (["image", "refresh", DIST], f"no image of {DIST} on this host")):
        r = image_site.run(*args)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
    plan = image_site.run("image", "build", "--dry-run", "--mirror", "http://127.0.0.1:9/debian")
    assert plan.returncode == 0, plan.stderr
    assert "debootstrap xenpairtiny from http://127.0.0.1:9/debian on this host in a private mount " \
           "namespace" in " ".join(plan.stdout.split())
    assert not (image_site.golden / DIST).exists()


def test_overwrite_and_repair_install_from_the_image_too(image_site, tiny_rootfs):
    m = publish(image_site.golden, tiny_rootfs, DIST)
    source = f"--install-source={image_site.golden}/{DIST}/{m.version}.tar"
    assert image_site.run("create", "small", "shop", "--yes", "--no-mail").returncode == 0
    r = image_site.run("create", "small", "shop", "--overwrite", "--yes", "--dry-run", "--json")
    plan = json.loads(r.stdout)["plan"]
    assert list(plan["summary"]["images"]) == ["hosting"] and source in _argv(plan, "hosting")

    with open(image_site.hosting_csv, "a") as f:          # a pair a killed run left half made
        f.write("192.168.20.5;odd.hosting.example.de;small;;d;creating\n")
    r = image_site.run("repair", "odd", "--dry-run", "--json")
    plan = json.loads(r.stdout)["plan"]
    assert sorted(plan["summary"]["images"]) == ["backup", "hosting"]
    assert all(source in _argv(plan, kind) for kind in ("hosting", "backup"))
    r = image_site.run("repair", "odd")
    assert r.returncode == 0, r.stderr


def test_an_image_on_one_dom0_only_is_not_used_until_both_hold_it(image_site, tiny_rootfs, tmp_path):
    """The backup dom0 (the real sshd, in a mount namespace that gives it its own images.dir)."""
    from tests.conftest import use_ssh_backup
    from tests.sshd import Sshd
    from xenpair.adapters.ssh import SshHost
    from xenpair.config import SshSettings, SshTarget

    own = tmp_path / "backup-golden"
    own.mkdir(mode=0o700)
    image_site.golden.mkdir(mode=0o700)
    server = Sshd(tmp_path / "sshd-own", binds={own: str(image_site.golden)})
    try:
        use_ssh_backup(image_site, server)
        backup = f"root@127.0.0.1:{server.port}"
        m = publish(image_site.golden, tiny_rootfs, DIST)
        plan = _plan(image_site)
        for kind in ("hosting", "backup"):
            image = plan["summary"]["images"][kind]
            assert image["image"] is None
            assert f"no image of {DIST} that both local and {backup} hold (local: {m.version}; {backup}: none)" \
                in image["install"]
        rows = json.loads(image_site.run("image", "list", "--json").stdout)
        assert [(r["host"], r["on_both"]) for r in rows] == [("local", False)]
        check = image_site.run("check").stdout
        assert f"backup dom0 ({backup}) images: no image of {DIST}" in check

        ssh = SshHost(SshTarget("root", "127.0.0.1", server.port),
                      SshSettings(key_file=str(server.client_key), known_hosts=str(server.known_hosts)))
        try:
            publish(image_site.golden, tiny_rootfs, DIST, version=m.version, host=ssh)   # the same image there
        finally:
            ssh.close()
        assert (own / DIST / f"{m.version}.tar").is_file()
        plan = _plan(image_site)
        assert all(plan["summary"]["images"][k]["image"]["version"] == m.version for k in ("hosting", "backup"))
        assert f"ok    images on both dom0s: both hold {DIST} {m.version}" in image_site.run("check").stdout
    finally:
        server.stop()
