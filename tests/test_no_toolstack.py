"""Issue 10, item 1: a machine without the Xen toolstack (no `xl`: no hypervisor here, as on a
build-only host) never ends in a traceback, and a failure after the build hides nothing."""

from __future__ import annotations

import json

import pytest

from tests.conftest import use_ssh_backup
from xenpair.adapters.hosts import LocalHost
from xenpair.errors import Failed

NO_XL = "/nonexistent/xl"


def no_toolstack(site):
    site.config["toolstack"] = NO_XL
    site.write_config()
    return site


def test_starting_a_missing_command_is_a_clear_error():
    with pytest.raises(Failed) as e:
        LocalHost().run(["/nonexistent/xl", "create", "x.cfg"])
    assert "cannot run '/nonexistent/xl' on host local" in str(e.value) and "No such file" in str(e.value)


def test_an_argument_list_too_long_is_a_clear_error():
    with pytest.raises(Failed) as e:
        LocalHost().run(["echo", "x" * 3_000_000])
    assert "cannot run 'echo' on host local: Argument list too long" in str(e.value)


def test_a_missing_command_over_ssh_is_a_clear_error(sshd):
    from tests.test_ssh import host

    h = host(sshd)
    try:
        with pytest.raises(Failed) as e:
            h.run(["/nonexistent/xl", "list"])
        assert f"cannot run '/nonexistent/xl' on host {h.name}: command not found" in str(e.value)
        # a command's own exit 127 is still just its exit code
        assert h.run(["sh", "-c", "exit 127"]).returncode == 127
    finally:
        h.close()


@pytest.mark.parametrize("command", ["start", "stop"])
def test_start_and_stop_without_toolstack(tiny_site, sshd, command):
    use_ssh_backup(no_toolstack(tiny_site), sshd)
    assert tiny_site.run("create", "small", "nt", "--yes", "--no-start").returncode == 0
    r = tiny_site.run(command, "nt")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"hosting: {command} FAILED: the toolstack command '{NO_XL}' is not there on host local" in r.stdout
    assert f"backup: {command} FAILED: the toolstack command '{NO_XL}' is not there on host root@" in r.stdout


def test_create_start_without_toolstack_still_shows_everything(tiny_site):
    no_toolstack(tiny_site)
    r = tiny_site.run("create", "small", "ns", "--yes", "--start")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "Root Password" in r.stdout and "full output of this run:" in r.stdout
    assert f"did not start: the toolstack command '{NO_XL}' is not there" in r.stdout
    assert ";ns.hosting.example.de;small;;" in tiny_site.hosting_csv.read_text()
    assert tiny_site.hosting_csv.read_text().splitlines()[-1].endswith(";created")


def test_a_failure_after_the_build_hides_nothing(tiny_site):
    """The cfg edit for the external IP fails (its .bak path is a directory): the build stands,
    its summaries, registry state and log path are shown, the steps not done are named."""
    (tiny_site.cfg_dir / "late.hosting.example.de.cfg.bak").mkdir()
    r = tiny_site.run("create", "small", "late", "203.0.113.50", "--yes", "--no-start", "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    res = json.loads(r.stdout)
    assert res["hosting"]["ok"] and res["backup"]["ok"] and res["state"] == "created"
    assert res["hosting"]["summary"]["root_password"] and res["run_log"]
    assert "move 203.0.113.50 onto its own vif" in res["stopped_at"]["step"]
    assert "Is a directory" in res["stopped_at"]["error"]
    assert any(s.startswith("mail the install summaries") for s in res["stopped_at"]["not_done"])
    text = tiny_site.run("show", "late").stdout
    assert "created" in text


def test_check_reports_the_toolstack_per_dom0(tiny_site, sshd):
    use_ssh_backup(no_toolstack(tiny_site), sshd)
    r = tiny_site.run("check", "--json")
    got = {c["check"]: c for c in json.loads(r.stdout)}
    for label in ("hosting dom0 (local)", f"backup dom0 (root@127.0.0.1:{sshd.port})"):
        c = got[f"{label} toolstack"]
        assert c["ok"] and c["warning"] and f"'{NO_XL}' is not there" in c["detail"]
    assert "warn  hosting dom0 (local) toolstack" in tiny_site.run("check").stdout


def test_wizard_does_not_offer_start_without_toolstack(tiny_site):
    no_toolstack(tiny_site)
    child = tiny_site.spawn("create", "small", "wz", "--no-external-ip")
    child.expect("Not offering to start the machines: the toolstack command")
    child.expect(r"Create these machines\?")
    child.sendline("n")
    child.expect(pytest.importorskip("pexpect").EOF)
    child.close()
    assert child.exitstatus == 1
