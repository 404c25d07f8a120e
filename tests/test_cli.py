"""The command line as people use it: a table of invocations through the real `xenpair` process."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import old_wrapper_registry
from xenpair import __version__

INVALID = [
    # (argv, exit code, text expected on stderr)
    (["create", "small", "a;b", "--yes"], 2, "invalid machine name 'a;b': the name contains ';'"),
    (["create", "small", "Foo", "--yes"], 2, "invalid machine name 'Foo': the name contains uppercase"),
    (["create", "small", "x..y", "--yes"], 2, "the name contains '.'"),
    (["create", "small", "a" * 64, "--yes"], 2, "the name is 64 characters long (at most 63)"),
    (["create", "small", "", "--yes"], 2, "invalid machine name '': the name is empty"),
    (["create", "small", "--yes", "--", "-x"], 2, "invalid machine name '-x': the name starts or ends with '-'"),
    (["create", "small", "-x"], 2, "No such option: -x"),
    (["create", "small", "foo", "300.1.1.1", "--yes"], 2, "invalid external IP: '300.1.1.1' is not an IPv4"),
    (["create", "small", "foo", "192.168.30.7", "--yes"], 2, "is inside the internal prefix 192.168.30.0/24"),
    (["create", "small", "foo", "127.0.0.1", "--dry-run"], 2, "127.0.0.1 is a loopback address"),
    (["create", "nope", "foo", "--yes"], 2, "unknown package 'nope'"),
    (["create", "2", "foo", "--yes"], 2, "use one of: big, small (a bare number N means packageN)"),
    (["create", "small"], 2, "Missing argument"),
    (["create", "small", "foo"], 2, "no terminal to ask for confirmation on"),
    (["show", "nope"], 2, "no pair named 'nope' in the registry"),
    (["show", "foo.hosting.example.de"], 2, "give the short name"),
    (["bogus"], 2, "No such command 'bogus'"),
]


@pytest.mark.parametrize(("argv", "code", "message"), INVALID, ids=[" ".join(a)[:40] for a, _, _ in INVALID])
def test_invalid_invocations_change_nothing(tiny_site, argv, code, message):
    r = tiny_site.run(*argv)
    assert r.returncode == code, r.stderr
    assert message in r.stderr
    assert not tiny_site.hosting_csv.exists() and not tiny_site.backup_csv.exists()
    assert not tiny_site.image_dir.exists() and list(tiny_site.cfg_dir.iterdir()) == []


def test_error_message_says_what_where_and_what_to_do(tiny_site):
    tiny_site.hosting_csv.write_text("IP;Name;Package;external IP;Date created\n192.168.20.1;Hosting;Xen-Host\n"
                                     "192.168.20.2;a.hosting.example.de;p;;d;bogus\n")
    r = tiny_site.run("list")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "xenpair: error: unknown state 'bogus'",
        f"  where: {tiny_site.hosting_csv}:3",
        "  what to do: the State column holds one of: reserved, created, failed"]


def test_bad_config_file(tiny_site):
    tiny_site.config_path.write_text("hosting:\n  prefx: 10.0.0.0/8\n")
    r = tiny_site.run("list")
    assert r.returncode == 2
    assert f"{tiny_site.config_path}:2: hosting.prefx: unknown key" in r.stderr


def test_missing_config_file(tmp_path):
    import subprocess
    r = subprocess.run([sys.executable, "-m", "xenpair", "--config", str(tmp_path / "no.yaml"), "list"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "cannot read config" in r.stderr


def test_config_from_environment(tiny_site, monkeypatch):
    import subprocess
    old_wrapper_registry(tiny_site)
    r = subprocess.run([sys.executable, "-m", "xenpair", "show", "shop", "--json"], capture_output=True, text=True,
                       env={"XENPAIR_CONFIG": str(tiny_site.config_path), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hosting"]["fqdn"] == "shop.hosting.example.de"


def test_version(tiny_site):
    r = tiny_site.run("--version")
    assert (r.returncode, r.stdout) == (0, f"xenpair {__version__}\n")


def test_empty_list(tiny_site):
    r = tiny_site.run("list")
    assert r.returncode == 0 and r.stdout.startswith("NAME  TIER") and "no pairs" in r.stderr
    assert json.loads(tiny_site.run("list", "--json").stdout) == []


def test_list_and_show_golden(tiny_site, golden):
    old_wrapper_registry(tiny_site)
    golden("list.txt", tiny_site.run("list").stdout)
    golden("list.json", tiny_site.run("list", "--json").stdout)
    golden("show-foobar.txt", tiny_site.run("show", "foobar").stdout)
    golden("show-foobar.json", tiny_site.run("show", "foobar", "--json").stdout)


def test_python_dash_m_and_console_script_agree(tiny_site):
    import shutil
    import subprocess
    exe = shutil.which("xenpair", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe, "the console script 'xenpair' is not installed beside this python"
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert r.stdout == f"xenpair {__version__}\n"
