"""A pair's life on backend: ganeti through xenpair's CLI against the real RAPI of the test cluster
(tests/ganeti_cluster.py): ready means ready, start/stop, the external IP as a second NIC, the
summary mail, a half-failed create that repair completes, Ctrl-C.

Ganeti's fake hypervisor only marks instances running; BootStandIn (tests/ganeti_cluster.py) is
the STAND-IN for Xen that boots each started instance's file disk under QEMU, so `wait` meets the
real guest the OS definition installed, on the network its NICs get."""

from __future__ import annotations

import email
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import XENPAIR
from tests.ganeti.conftest import IMAGE
from tests.ganeti_cluster import BootStandIn


def site(cluster, root: Path, **kw) -> Path:
    return cluster.site_config(root, IMAGE, **kw)


def xp(config: Path, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(XENPAIR + ["--config", str(config), *argv], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def instances(cluster) -> dict[str, list[str]]:
    out = cluster.gnt("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                      "name,pnode,nic.ips,status,tags").stdout
    return {line.split("|")[0]: line.split("|") for line in out.splitlines()}


def test_a_pair_on_the_cluster_is_ready_when_its_guests_answer_with_the_keys_xenpair_made(
        cluster, os_definition, tmp_path, mailbox):
    """create --start --wait with an external IP; stop; start --wait; ip set; ip remove; destroy."""
    inbox, port = mailbox
    config = site(cluster, tmp_path, mail_port=port)
    before = len(inbox.messages)
    with BootStandIn(cluster, tmp_path / "boot") as boot:
        r = xp(config, "create", "small", "life1", "192.0.2.50", "--start", "--wait=400", "--yes", "--json")
        assert r.returncode == 0, (r.stderr[-4000:] + "\n".join(boot.log)
                                   + boot.console("life1.hosting.example.de")[-3000:])
        res = json.loads(r.stdout)
        n = res["n"]
        for kind in ("hosting", "backup"):
            ready = res["ready"][kind]
            assert ready["ok"] and not ready["mismatch"], ready
            assert [v["fingerprint"] for v in ready["verified"]] == \
                [f["fingerprint"] for f in res[kind]["summary"]["ssh_fingerprints"]]
        rows = instances(cluster)
        assert rows["life1.hosting.example.de"][2] == f"198.51.100.{n},192.0.2.50"      # the second NIC
        assert rows["life1.backup.example.de"][2] == f"203.0.113.{n}"
        assert {rows[f][3] for f in ("life1.hosting.example.de", "life1.backup.example.de")} == {"running"}
        with socket.create_connection(("192.0.2.50", 22), timeout=10) as s:     # eth1 in the guest answers too
            assert s.recv(64).startswith(b"SSH-2.0-")
        known = (tmp_path / "known_hosts").read_text()
        assert "life1.hosting.example.de" in known and f"203.0.113.{n}" in known
        # the summary mail: both machines, the fingerprints xenpair made
        assert len(inbox.messages) == before + 1
        body = email.message_from_bytes(inbox.messages[-1][2]).get_payload(decode=True).decode()
        assert "Hosting machine life1.hosting.example.de on node" in body
        assert res["hosting"]["summary"]["ssh_fingerprints"][0]["fingerprint"] in body
        assert "external IP 192.0.2.50" in body

        r = xp(config, "stop", "life1", "--json")
        assert r.returncode == 0, r.stderr
        assert not {"life1.hosting.example.de", "life1.backup.example.de"} & set(cluster.fake_running())
        deadline = time.monotonic() + 30
        while "life1.hosting.example.de" in boot.booted and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "life1.hosting.example.de" not in boot.booted                    # the QEMU stand-in went too
        shown = json.loads(xp(config, "show", "life1", "--json").stdout)
        assert shown["readiness"] != "ready", shown

        r = xp(config, "start", "life1", "--wait=400", "--json")
        assert r.returncode == 0, (r.stderr[-3000:] + "\n".join(boot.log)
                                   + boot.console("life1.hosting.example.de")[-3000:])
        assert json.loads(r.stdout)["ok"]
        assert json.loads(xp(config, "show", "life1", "--json").stdout)["readiness"] == "ready"

    r = xp(config, "ip", "set", "life1", "192.0.2.51", "--json")
    assert r.returncode == 0, r.stderr
    assert instances(cluster)["life1.hosting.example.de"][2] == f"198.51.100.{n},192.0.2.51"
    assert ";192.0.2.51;" in (tmp_path / "h.csv").read_text()
    r = xp(config, "ip", "remove", "life1", "--json")
    assert r.returncode == 0, r.stderr
    assert instances(cluster)["life1.hosting.example.de"][2] == f"198.51.100.{n}"
    assert ";192.0.2.51;" not in (tmp_path / "h.csv").read_text()

    r = xp(config, "destroy", "life1", "--yes", "--json")
    assert r.returncode == 0, r.stderr
    assert not [name for name in instances(cluster) if name.startswith("life1.")]
    assert "life1" not in (tmp_path / "known_hosts").read_text()


def test_a_create_failing_for_one_machine_leaves_a_failed_pair_that_repair_completes(
        cluster, os_definition, tmp_path):
    """The backup group's nodes are drained: hail finds no node, the backup create fails, the
    hosting machine stays; `list` shows the pair failed; once the nodes take instances again,
    `repair` creates the backup machine at the pair's address."""
    config = site(cluster, tmp_path)
    for node in ("node3", "node4"):
        cluster.gnt("gnt-node", "modify", "--drained=yes", node)
    try:
        r = xp(config, "create", "small", "half1", "--no-external-ip", "--no-start", "--no-mail", "--yes", "--json")
    finally:
        for node in ("node3", "node4"):
            cluster.gnt("gnt-node", "modify", "--drained=no", node)
    assert r.returncode == 1, r.stderr[-3000:]
    res = json.loads(r.stdout)
    n = res["n"]
    assert res["state"] == "failed (backup)" and res["next"] == "xenpair repair half1", res
    assert res["hosting"]["ok"] and not res["backup"]["ok"] and res["backup"]["problem"]
    assert "half1.hosting.example.de" in instances(cluster) and "half1.backup.example.de" not in instances(cluster)
    listing = xp(config, "list", "--json")
    assert "failed" in json.dumps([p for p in json.loads(listing.stdout) if p["name"] == "half1"]), listing.stdout

    plan = xp(config, "repair", "half1", "--dry-run", "--json")
    assert plan.returncode == 0 and "half1.backup.example.de" in plan.stdout and "hosting" in plan.stdout
    r = xp(config, "repair", "half1", "--no-mail", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res["ok"] and res["kept"] == ["hosting"], res
    rows = instances(cluster)
    assert rows["half1.backup.example.de"][2] == f"203.0.113.{n}" and rows["half1.backup.example.de"][1] in (
        "node3", "node4")
    shown = json.loads(xp(config, "show", "half1", "--json").stdout)
    assert shown["state"] == "created" and shown["backup"]["host_keys"] == \
        res["backup"]["summary"]["ssh_fingerprints"]
    assert xp(config, "repair", "half1", "--json").returncode == 0          # nothing left to do
    assert xp(config, "destroy", "half1", "--yes").returncode == 0


def test_ctrl_c_during_a_create_cancels_what_has_not_run_and_repair_finishes_the_pair(
        cluster, os_definition, tmp_path):
    config = site(cluster, tmp_path)
    p = subprocess.Popen(XENPAIR + ["--config", str(config), "create", "small", "intr1", "--no-external-ip",
                                    "--no-start", "--no-mail", "--yes"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    seen = ""
    while seen.count("Ganeti job") < 2:          # both creates submitted
        line = p.stderr.readline()
        assert line, seen
        seen += line
    p.send_signal(signal.SIGINT)                 # xenpair's own process: no xen-create-image runs here
    out, err = p.communicate(timeout=300)
    seen += err
    assert p.returncode == 130, seen[-3000:]
    assert "interrupted" in seen and ("cancelled" in seen or "could not be cancelled" in seen), seen[-3000:]
    shown = json.loads(xp(config, "show", "intr1", "--json").stdout)
    assert shown["state"] != "created", shown
    r = xp(config, "repair", "intr1", "--no-mail", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    rows = instances(cluster)
    n = json.loads(r.stdout)["n"]
    assert rows["intr1.hosting.example.de"][2] == f"198.51.100.{n}" and rows["intr1.backup.example.de"][2] == \
        f"203.0.113.{n}"
    assert json.loads(xp(config, "show", "intr1", "--json").stdout)["state"] == "created"
    assert xp(config, "destroy", "intr1", "--yes").returncode == 0


def test_overwrite_builds_the_hosting_machine_again_and_keeps_the_backup(cluster, os_definition, tmp_path):
    """create --overwrite on a cluster: the hosting instance removed and created again at its
    address with new host keys; the backup instance untouched unless --rebuild-backup; a running
    instance is refused without --stop."""
    config = site(cluster, tmp_path)
    r = xp(config, "create", "small", "reb1", "--no-external-ip", "--no-start", "--no-mail", "--yes", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    first = json.loads(r.stdout)
    n = first["n"]
    assert xp(config, "start", "reb1").returncode == 0            # the fake hypervisor marks it running
    r = xp(config, "create", "small", "reb1", "--overwrite", "--no-mail", "--yes")
    assert r.returncode == 2 and "reb1.hosting.example.de is running" in r.stderr and "--stop" in r.stderr
    r = xp(config, "create", "small", "reb1", "--overwrite", "--stop", "--no-mail", "--yes", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    again = json.loads(r.stdout)
    assert again["action"] == "rebuild" and again["kept"] == ["backup"] and again["n"] == n
    old, new = (x["hosting"]["summary"]["ssh_fingerprints"] for x in (first, again))
    assert old != new                                              # new host keys
    shown = json.loads(xp(config, "show", "reb1", "--json").stdout)
    assert shown["hosting"]["host_keys"] == new
    assert shown["backup"]["host_keys"] == first["backup"]["summary"]["ssh_fingerprints"]     # kept
    assert instances(cluster)["reb1.hosting.example.de"][2] == f"198.51.100.{n}"
    r = xp(config, "create", "small", "reb1", "--overwrite", "--rebuild-backup", "--stop", "--no-mail", "--yes",
           "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["kept"] == []
    assert json.loads(xp(config, "show", "reb1", "--json").stdout)["backup"]["host_keys"] != \
        first["backup"]["summary"]["ssh_fingerprints"]
    assert xp(config, "destroy", "reb1", "--yes").returncode == 0
