"""Issue 10 item 12: what xenpair says is true, and reads like a Debian tool's help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENV = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "TERM": "dumb"}


def xenpair(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xenpair", *args], capture_output=True, text=True, env=ENV,
                          cwd=REPO)


@pytest.mark.parametrize("command", [["create"], ["destroy"], ["show"], ["ip", "set"], ["repair"], ["list"],
                                     ["check"], ["roles", "sync"], ["start"]])
def test_help_shows_no_type_labels(command):
    out = xenpair(*command, "--help").stdout
    assert "<bool>" not in out and "<str>" not in out and "{" not in out, out


def test_arguments_are_upper_case_in_usage():
    assert "Usage: xenpair destroy [OPTIONS] NAME" in xenpair("destroy", "--help").stdout
    assert "Usage: xenpair create [OPTIONS] [PACKAGE] [NAME] [EXTERNAL_IP]" in xenpair("create", "--help").stdout
    assert "Missing argument 'NAME'" in xenpair("destroy").stderr


@pytest.mark.parametrize("args", [["list", "--config", "x.yaml"], ["show", "a", "--config=x.yaml"],
                                  ["list", "-c", "x.yaml"], ["list", "--version"]])
def test_a_global_option_after_the_command_says_so(args):
    r = xenpair(*args)
    assert r.returncode == 2
    assert "is a global option: it goes before the command" in r.stderr and "xenpair --config" in r.stderr


def test_an_existing_name_points_at_overwrite(tiny_site):
    assert tiny_site.run("create", "small", "dup", "--yes", "--no-start").returncode == 0
    r = tiny_site.run("create", "small", "dup", "--yes")
    assert r.returncode == 2 and "--overwrite" in r.stderr and "not offered" not in r.stderr


def test_one_pair_is_not_pairs(tiny_site):
    assert tiny_site.run("create", "small", "one", "--yes", "--no-start").returncode == 0
    assert "registry: 1 pair in " in tiny_site.run("check").stdout


def test_readme_names_every_adapter_and_no_stale_not_yet():
    readme = (REPO / "README.md").read_text()
    for module in (REPO / "xenpair" / "adapters").glob("*.py"):
        if module.stem != "__init__":
            assert module.stem in readme, f"README's layout does not name adapters/{module.name}"
    for doc in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        assert "Not yet: the site roles" not in doc.read_text() and "not offered" not in doc.read_text(), doc
