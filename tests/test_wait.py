"""`wait` and `--wait` without booting anything: a guest that never answers, the options, the
recorded host keys, the known_hosts file (local and on the backup dom0 over the real sshd).
The booted guests are in test_ready_boot.py.

The toolstack here is the file-based STAND-IN `fake_xl` (no Xen hypervisor runs here): it
"starts" a guest by recording it, so nothing answers on the guests' addresses, which are from
documentation ranges; the tests' network namespace has no route to them at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import use_ssh_backup
from xenpair.adapters import known_hosts
from xenpair.adapters.hosts import LocalHost

pytestmark = pytest.mark.xci


def doc_ranges(site, fake_xl, timeout: float = 3):
    site.config["hosting"].update(prefix="198.51.100.0/24", gateway="198.51.100.1")
    site.config["backup"].update(prefix="192.0.2.0/24", gateway="192.0.2.1")
    site.config["toolstack"] = str(fake_xl[0])
    site.config["ready"] = {"timeout": timeout, "known_hosts": str(site.root / "ssh_known_hosts")}
    site.write_config()
    return site


def test_a_guest_that_never_answers_times_out_naming_it(tiny_site, fake_xl):
    site = doc_ranges(tiny_site, fake_xl)
    r = site.run("create", "small", "mute", "--no-external-ip", "--yes", "--wait=2")
    assert r.returncode == 1, r.stderr
    # --wait started the machines (no --start needed), then waited 2 s, not the config's 3
    assert (fake_xl[1] / "mute.hosting.example.de").exists() and (fake_xl[1] / "mute.backup.example.de").exists()
    out = " ".join(r.stdout.split())
    assert ("hosting machine NOT READY: mute.hosting.example.de was not ready within 2 s: " in out
            and "SSH connection(s) to 198.51.100.2:22 from local, expecting the ED25519 host key SHA256:" in out)
    assert "mute.backup.example.de was not ready within 2 s" in out and "the last attempt: " in out
    assert "pair mute created and started, but not ready (see above)" in out and "xenpair wait mute" in out
    # the state is visible afterwards
    assert "created, not ready" in site.run("list").stdout
    shown = json.loads(site.run("show", "mute", "--json").stdout)
    assert shown["readiness"] == "not ready" and "was not ready within 2 s" in shown["hosting"]["problem"]
    assert {k["algorithm"] for k in shown["hosting"]["host_keys"]} == {"ECDSA", "ED25519", "RSA"}
    assert not Path(site.config["ready"]["known_hosts"]).exists()     # nothing verified, nothing written
    w = site.run("wait", "mute", "--timeout", "1", "--json")
    assert w.returncode == 1 and json.loads(w.stdout)["ok"] is False


def test_json_result_carries_fingerprints_and_times(tiny_site, fake_xl):
    site = doc_ranges(tiny_site, fake_xl, timeout=1)
    r = site.run("create", "small", "js", "--no-external-ip", "--yes", "--start", "--wait", "--json")
    assert r.returncode == 1
    res = json.loads(r.stdout)
    for kind in ("hosting", "backup"):
        ready = res["ready"][kind]
        assert ready["ok"] is False and ready["attempts"] >= 1 and ready["waited_s"] >= 1
        assert ready["fqdn"] == f"js.{kind}.example.de" and not ready["mismatch"]
        # every machine its own full set of host keys (the xenpair-identity role), in the summary
        assert {f["algorithm"] for f in res[kind]["summary"]["ssh_fingerprints"]} == {"ECDSA", "ED25519", "RSA"}
    prints = {f["fingerprint"] for kind in ("hosting", "backup") for f in res[kind]["summary"]["ssh_fingerprints"]}
    assert len(prints) == 6                                              # no two machines share a key


@pytest.mark.parametrize("args,message", [
    (["--wait", "--no-start"], "--wait goes with starting the machines, not with --no-start"),
    (["--wait=abc"], "--wait=abc: not a number of seconds"),
    (["--wait=0"], "--wait=0: not a number of seconds"),
])
def test_wait_option_mistakes_change_nothing(tiny_site, fake_xl, args, message):
    site = doc_ranges(tiny_site, fake_xl)
    r = site.run("create", "small", "bad", "--no-external-ip", "--yes", *args)
    assert r.returncode == 2 and message in r.stderr
    assert not site.hosting_csv.exists()


def test_dry_run_shows_the_wait_step(tiny_site, fake_xl):
    site = doc_ranges(tiny_site, fake_xl)
    r = site.run("create", "small", "dry", "--no-external-ip", "--wait=90", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert ("wait up to 90 s until the started machines answer SSH with the host keys of their install "
            f"summaries; write them to {site.root / 'ssh_known_hosts'} on their dom0s") in " ".join(r.stdout.split())


def test_a_machine_without_recorded_keys_is_never_trusted(tiny_site, fake_xl):
    site = doc_ranges(tiny_site, fake_xl)
    assert site.run("create", "small", "old", "--no-external-ip", "--yes").returncode == 0
    record = Path(str(site.hosting_csv) + ".machines.json")
    record.unlink()                     # as for a pair built before xenpair recorded host keys
    r = site.run("wait", "old", "--timeout", "1")
    assert r.returncode == 1
    assert "old.hosting.example.de: no host key to check against" in " ".join(r.stdout.split())
    assert "never trusts a key on first use" in " ".join(r.stdout.split())


def test_a_tampered_state_file_is_refused_naming_it(tiny_site, fake_xl):
    site = doc_ranges(tiny_site, fake_xl)
    assert site.run("create", "small", "tm", "--no-external-ip", "--yes").returncode == 0
    record = Path(str(site.hosting_csv) + ".machines.json")
    data = json.loads(record.read_text())
    data["machines"]["tm.hosting.example.de"]["host_keys"][0]["fingerprint"] = "SHA256:x'; rm -rf /"
    record.write_text(json.dumps(data))
    for command in (["wait", "tm", "--timeout", "1"], ["show", "tm"], ["list"]):
        r = site.run(*command)
        assert r.returncode == 2, (command, r.stderr)
        assert f"where: {record}" in r.stderr and "does not hold what xenpair wrote" in r.stderr


def test_destroy_removes_the_machines_known_hosts_lines_and_records(tiny_site, fake_xl, sshd):
    site = use_ssh_backup(doc_ranges(tiny_site, fake_xl), sshd)
    kh = Path(site.config["ready"]["known_hosts"])
    other = "web1.hosting.example.de,198.51.100.9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther\n"
    kh.write_text("# kept\n" + other + "gone.hosting.example.de,198.51.100.2 ssh-ed25519 AAAAold\n"
                  "198.51.100.2 ssh-rsa AAAAold\ngone.backup.example.de ssh-ed25519 AAAAold\n")
    assert site.run("create", "small", "gone", "--no-external-ip", "--yes").returncode == 0
    d = site.run("destroy", "gone", "--yes")
    assert d.returncode == 0, d.stderr
    assert kh.read_text() == "# kept\n" + other
    for csv in (site.hosting_csv, site.backup_csv):
        assert json.loads(Path(str(csv) + ".machines.json").read_text())["machines"] == {}


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_known_hosts_edit_keeps_every_other_line(tmp_path, sshd, where):
    from tests.test_ssh import host as ssh_host

    h = LocalHost() if where == "local" else ssh_host(sshd)
    path = str(tmp_path / "kh")
    Path(path).write_text("@cert-authority *.example.de ssh-ed25519 AAAAca\n|1|hashed= ssh-rsa AAAAh\n"
                          "a.example.de,198.51.100.2 ssh-rsa AAAAold\nab.example.de ssh-rsa AAAAkeep\n")
    try:
        known_hosts.replace(h, path, ["a.example.de", "198.51.100.2"],
                            [known_hosts.line(["a.example.de", "198.51.100.2"], "ssh-ed25519", "AAAAnew")])
    finally:
        if where == "ssh":
            h.close()
    assert Path(path).read_text() == ("@cert-authority *.example.de ssh-ed25519 AAAAca\n|1|hashed= ssh-rsa AAAAh\n"
                                      "ab.example.de ssh-rsa AAAAkeep\n"
                                      "a.example.de,198.51.100.2 ssh-ed25519 AAAAnew\n")
    assert oct(Path(path).stat().st_mode & 0o777) == "0o644"


def test_the_default_known_hosts_file_is_one_openssh_reads():
    """ready.known_hosts defaults to a file the bookworm ssh client reads with no configuration."""
    import subprocess

    from xenpair.config import Ready

    out = subprocess.run(["ssh", "-G", "-F", "none", "guest.example.de"], capture_output=True, text=True).stdout
    files = next(line.split()[1:] for line in out.splitlines() if line.startswith("globalknownhostsfile "))
    assert Ready().known_hosts in files


def test_the_wizard_s_start_means_wait(tiny_site, fake_xl):
    from tests.test_wizard import ENTER, Q_CREATE, Q_EXT, Q_NAME, Q_PACKAGE, Q_START, finish

    site = doc_ranges(tiny_site, fake_xl, timeout=2)
    child = site.spawn("create")
    child.expect(Q_PACKAGE)
    child.send(ENTER)
    child.expect(Q_NAME)
    child.send("wz" + ENTER)
    child.expect(Q_EXT)
    child.send("n")
    child.expect(Q_START)
    child.send("y")
    child.expect("wait up to 2 s until the started machines answer SSH")
    child.expect(Q_CREATE)
    child.send("y")
    child.expect("NOT READY", timeout=120)
    assert finish(child) == 1


def test_ctrl_c_while_waiting_stops_at_once(tiny_site, fake_xl):
    import signal
    import time

    site = doc_ranges(tiny_site, fake_xl)
    assert site.run("create", "small", "cc", "--no-external-ip", "--yes", "--start").returncode == 0
    p = site.popen("wait", "cc", "--timeout", "300")
    time.sleep(3)
    began = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert time.monotonic() - began < 10 and "Traceback" not in err


def test_start_wait_starts_then_waits(tiny_site, fake_xl):
    site = doc_ranges(tiny_site, fake_xl)
    assert site.run("create", "small", "sw", "--no-external-ip", "--yes", "--no-start").returncode == 0
    r = site.run("start", "sw", "--wait=1", "--json")
    assert r.returncode == 1, r.stderr
    res = json.loads(r.stdout)
    assert res["started"] == {"hosting": None, "backup": None} and res["ok"] is False
    assert "was not ready within 1 s" in res["hosting"]["problem"]
    assert (fake_xl[1] / "sw.hosting.example.de").exists()
    assert "created, not ready" in site.run("list").stdout
    r = site.run("start", "sw", "--wait=abc")
    assert r.returncode == 2 and "--wait=abc: not a number of seconds" in r.stderr
