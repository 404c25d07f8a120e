"""The interactive wizard, driven keystroke by keystroke in a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import sys

import pexpect
import pytest

DOWN, ENTER, CTRL_U = "\x1b[B", "\r", "\x15"
Q_PACKAGE = r"Package:"
Q_NAME = r"Machine name:"
Q_EXT = r"Does the hosting machine get an external IP\?"
Q_IP = r"External IP \(empty for none\):"
Q_START = r"Start the machines afterwards\?"
Q_CREATE = r"Create these machines\?"


@pytest.fixture
def tiny_site(tiny_site, fake_xl):
    """STAND-IN toolstack (no Xen hypervisor, so no `xl`, here): the wizard offers "start" only
    where the toolstack command is there."""
    tiny_site.config["toolstack"] = str(fake_xl[0])
    tiny_site.write_config()
    return tiny_site


def spawn(site, *args: str) -> pexpect.spawn:
    return site.spawn("create", *args)


def finish(child) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def nothing_written(site) -> bool:
    return not site.hosting_csv.exists() and not site.backup_csv.exists() and not site.image_dir.exists()


def test_full_happy_path(tiny_site):
    child = spawn(tiny_site)
    child.expect(Q_PACKAGE)
    child.expect("hosting 512 MB / 4 vCPU / 2 GB")            # each tier's sizes are shown
    child.send(DOWN + ENTER)                                    # big, then small: choose small
    child.expect(Q_NAME)
    child.send("wiz" + ENTER)
    child.expect(Q_EXT)
    child.send("y")
    child.expect(Q_IP)
    child.send("203.0.113.50" + ENTER)
    child.expect(Q_START)
    child.send("n")
    child.expect("Plan: create pair wiz")
    child.expect(Q_CREATE)
    child.send("y")
    child.expect("pair wiz created")
    assert finish(child) == 0
    assert ";wiz.hosting.example.de;small;203.0.113.50;" in tiny_site.hosting_csv.read_text()


def test_bad_name_then_good_one(tiny_site):
    child = spawn(tiny_site, "small", "--no-external-ip", "--no-start")
    child.expect(Q_NAME)
    child.send("Bad;Name" + ENTER)
    child.expect("one DNS label")                               # the rule, shown on the bad entry
    child.send(CTRL_U + "good" + ENTER)
    child.expect(Q_CREATE)
    child.send("y")
    child.expect("pair good created")
    assert finish(child) == 0


def test_bad_external_ip_then_none(tiny_site):
    child = spawn(tiny_site, "small", "noext", "--no-start")
    child.expect(Q_EXT)
    child.send("y")
    child.expect(Q_IP)
    child.send("127.0.0.1" + ENTER)
    child.expect("loopback address")
    child.send(CTRL_U + ENTER)                                  # empty: none
    child.expect(Q_CREATE)
    child.send("y")
    child.expect("pair noext created")
    assert finish(child) == 0
    assert ";noext.hosting.example.de;small;;" in tiny_site.hosting_csv.read_text()


def test_refusing_the_final_question_writes_nothing(tiny_site):
    child = spawn(tiny_site, "small", "no", "--no-external-ip", "--no-start")
    child.expect(Q_CREATE)
    child.send("n")
    assert finish(child) == 1
    assert nothing_written(tiny_site)


PROMPTS = [(Q_PACKAGE, ""), (Q_NAME, DOWN + ENTER), (Q_EXT, "x" + ENTER), (Q_IP, "y"),
           (Q_START, "203.0.113.9" + ENTER), (Q_CREATE, "n")]


@pytest.mark.parametrize("at", range(len(PROMPTS)), ids=[p for p, _ in PROMPTS])
def test_ctrl_c_at_each_prompt_exits_130(tiny_site, at):
    child = spawn(tiny_site)
    for prompt, answer_to_previous in PROMPTS[: at + 1]:
        child.send(answer_to_previous)
        child.expect(prompt)
    child.sendintr()
    assert finish(child) == 130
    assert nothing_written(tiny_site)


def test_esc_cancels_too(tiny_site):
    child = spawn(tiny_site, "small")
    child.expect(Q_NAME)
    child.send("\x1b")
    assert finish(child) == 130
    assert nothing_written(tiny_site)


def test_existing_name_offers_the_rebuild(tiny_site):
    assert tiny_site.run("create", "small", "again", "--yes").returncode == 0
    before = tiny_site.hosting_csv.read_bytes()
    child = spawn(tiny_site, "small", "again")
    child.expect(r"again exists \(address number 2, package small\)\. Rebuild it\?")
    child.send("n")
    assert finish(child) == 1
    assert tiny_site.hosting_csv.read_bytes() == before


def test_help_shows_every_flag_and_a_scripted_example():
    import subprocess
    r = subprocess.run([sys.executable, "-m", "xenpair", "create", "--help"], capture_output=True, text=True,
                       env={"COLUMNS": "220", "PATH": "/usr/bin:/bin"})
    for flag in ("--no-external-ip", "--yes", "--start", "--no-start", "--overwrite", "--rebuild-backup",
                 "--stop", "--dry-run", "--json"):
        assert flag in r.stdout
    assert "xenpair create package2 customer42 203.0.113.10 --yes --start --json" in r.stdout
