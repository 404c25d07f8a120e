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
    (["create", "small"], 2, "missing NAME, and no terminal to ask on"),
    (["create"], 2, "missing PACKAGE and NAME, and no terminal to ask on"),
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
        "  what to do: the State column holds one of: reserved, creating, created, failed, destroyed"]


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


def test_lvm_site_dry_run_shows_lvm_argv(tiny_site):
    """LVM cannot run here (no device-mapper): an LVM site is covered up to the plan."""
    tiny_site.config["xen_create_image"]["storage"] = {"lvm": "vg0"}
    tiny_site.config["hosting"]["gateway"] = "192.168.20.254"
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "lv", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    commands = next(s["commands"] for s in json.loads(r.stdout)["plan"]["steps"] if "commands" in s)
    assert "--lvm=vg0" in commands["hosting"]["argv"] and "--lvm=vg0" in commands["backup"]["argv"]
    assert "--gateway=192.168.20.254" in commands["hosting"]["argv"]
    assert not any(a.startswith("--gateway") for a in commands["backup"]["argv"])


def test_gateway_number_is_never_handed_out(tiny_site):
    tiny_site.config["hosting"]["gateway"] = "192.168.20.2"
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "gw", "--dry-run", "--json")
    assert json.loads(r.stdout)["plan"]["summary"]["n"] == 3


def test_confirmation_on_a_real_terminal(tiny_site):
    """Without --yes on a terminal: the plan, then 'Create these machines?' (default no)."""
    import pexpect

    args = ("create", "small", "tty", "--no-external-ip", "--no-start")
    child = tiny_site.spawn(*args)
    child.expect("Plan: create pair tty")
    child.expect(r"Create these machines\?")
    child.send("\r")                                       # Enter = the default, no
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and "nothing created" in child.before
    assert not tiny_site.hosting_csv.exists()

    child = tiny_site.spawn(*args, timeout=120)
    child.expect(r"Create these machines\?")
    child.send("y")
    child.expect("pair tty created")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert ";tty.hosting.example.de;small;;" in tiny_site.hosting_csv.read_text()


def test_ctrl_c_at_the_confirmation_exits_130(tiny_site):
    import pexpect

    args = ("create", "small", "tty", "--no-external-ip", "--no-start")
    child = tiny_site.spawn(*args)
    child.expect(r"Create these machines\?")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert not tiny_site.hosting_csv.exists()


def test_live_view_on_a_terminal(tiny_site):
    """On a terminal the builds show as a live table (machine, host, time, step), not as lines."""
    import pexpect

    child = tiny_site.spawn("create", "small", "live", "--yes", timeout=120)
    child.expect(pexpect.EOF)
    child.close()
    out = child.before
    assert child.exitstatus == 0, out
    assert "machine" in out and "step" in out and "live.hosting.example.de" in out and "done" in out
    assert "[hosting] building" not in out                  # the plain lines are for non-terminals
    assert "pair live created" in out
