"""Issue 10, consolidation: the live view's lock, declared dependencies, one packages.yaml, `list`
in 80 columns, the wizard's dry run asking what the real run asks, short prompt messages."""

from __future__ import annotations

import ast
import sys
import threading
import tomllib
from pathlib import Path

import pexpect
import pytest

from tests.conftest import old_wrapper_registry
from xenpair.cli.progress import LiveProgress

REPO = Path(__file__).resolve().parent.parent
# distribution name -> the module it installs
IMPORT_NAMES = {"PyYAML": "yaml", "django-axes": "axes", "argon2-cffi": "argon2"}


def test_live_progress_changes_rows_only_under_its_lock():
    """rich's refresh thread reads the rows while the build threads change them."""
    p = LiveProgress()
    with p._lock:
        t = threading.Thread(target=p.started, args=("hosting", "a.example.de", "local"))
        t.start()
        t.join(0.3)
        assert t.is_alive(), "started() changed the rows without the lock"
        reader = threading.Thread(target=p._table)
        reader.start()
        reader.join(0.3)
        assert reader.is_alive(), "_table() read the rows without the lock"
    t.join(5)
    reader.join(5)
    assert p.rows["hosting"]["fqdn"] == "a.example.de"


def _declared(deps: list[str]) -> set[str]:
    return {IMPORT_NAMES.get(n, n).lower().replace("-", "_")
            for n in (d.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip() for d in deps)}


def test_every_imported_package_is_declared():
    """The CLI's imports are dependencies; xenpair/web's may also be in the web extra, and
    xenpair/packaging.py's (the .deb's build step: click-man) in the test extra, which has it for
    comparing, as debian/rules installs it for the build."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = _declared(project["dependencies"])
    web = core | _declared(project["optional-dependencies"]["web"])
    build = core | _declared(project["optional-dependencies"]["test"])
    for path in (REPO / "xenpair").rglob("*.py"):
        rel = path.relative_to(REPO)
        declared = web if "web" in rel.parts[1:2] or rel.as_posix() == "xenpair/cli/web.py" else \
            build if rel.as_posix() == "xenpair/packaging.py" else core
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "xenpair":
                    continue
                assert top.lower() in declared, f"{path.relative_to(REPO)} imports {top}, not in dependencies"


def test_list_fits_80_columns_and_wide_shows_all(tiny_site):
    old_wrapper_registry(tiny_site)
    text = tiny_site.run("list").stdout
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "foobar" in text and "198.51.100.20" in text and "HOSTING FQDN" not in text
    wide = tiny_site.run("list", "--wide").stdout
    assert "foobar.backup.example.de" in wide and "Tue Jun 11 09:00:00 CEST 2013" in wide
    # a long name and a long state are cut, addresses never
    long = "a" * 60
    tiny_site.hosting_csv.write_text(tiny_site.hosting_csv.read_text()
                                     + f"192.168.20.9;{long}.hosting.example.de;package1;203.0.113.99;d;failed\n")
    text = tiny_site.run("list").stdout
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "~" in text and "203.0.113.99" in text and "192.168.30.7" in text


@pytest.fixture
def xl_site(tiny_site, fake_xl):
    """STAND-IN toolstack (no Xen hypervisor here), so that the wizard offers to start."""
    tiny_site.config["toolstack"] = str(fake_xl[0])
    tiny_site.write_config()
    return tiny_site


def test_the_wizard_asks_the_same_questions_in_a_dry_run(xl_site):
    child = xl_site.spawn("create", "small", "dry", "--dry-run")
    child.expect(r"Does the hosting machine get an external IP\?")
    child.send("y")
    child.expect(r"External IP \(empty for none\):")
    child.send("203.0.113.77\r")
    child.expect(r"Start the machines afterwards\?")
    child.send("y")
    child.expect("Plan: create pair dry")
    out = child.read()                    # to the end: no confirmation in a dry run
    child.close()
    assert child.exitstatus == 0
    assert "--ip=203.0.113.77" in out and "create\r\n" not in out and "fake-xl create" in out
    assert not xl_site.hosting_csv.exists()


def test_name_prompt_messages_fit_the_terminal(tiny_site):
    import subprocess

    child = pexpect.spawn(sys.executable, ["-m", "xenpair", "--config", str(tiny_site.config_path), "create",
                                           "small", "--no-external-ip", "--no-start"],
                          encoding="utf-8", timeout=60, cwd=str(tiny_site.root), dimensions=(24, 80))
    child.expect("Machine name:")
    child.send("Bad!Name\r")
    child.expect(r"the name contains uppercase letters \(one DNS label: a-z, 0-9, inner -\)")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    subprocess.run(["true"])


def test_demo_and_test_share_one_image_made_by_xenpair(tmp_path):
    """`make demo` then `make test` debootstrapped twice; now both use one golden image, made by
    `xenpair image build` (the code users run), in the test cache's image store."""
    import subprocess

    args = [f"TEST_CACHE={tmp_path}/cache", f"DEMO_DIR={tmp_path}/demo", "MIRROR=http://mirror.invalid/debian"]
    for target in ("demo", "test"):
        out = subprocess.run(["make", "-n", target, *args], cwd=REPO, capture_output=True, text=True).stdout
        builds = [line for line in out.splitlines() if "image build" in line]
        assert builds == [f".venv/bin/xenpair --config {tmp_path}/cache/image-cache.yaml image build bookworm "
                          "--host hosting --mirror http://mirror.invalid/debian"], out
        assert "images: {dir: %s/images}" in out
    demo = subprocess.run(["make", "-n", "demo", *args], cwd=REPO, capture_output=True, text=True).stdout
    assert f"ls {tmp_path}/cache/images/bookworm/*.tar | tail -n 1" in demo
    assert f"ln -f \"$f\" {tmp_path}/demo/images/bookworm/" in demo
