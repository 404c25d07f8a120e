"""ip set / ip remove, start / stop on existing pairs."""

from __future__ import annotations

import json

from tests import xlcfg
from tests.conftest import use_ssh_backup


def vifs(site, name: str) -> list[str]:
    return xlcfg.parse(site.cfg_dir / f"{name}.hosting.example.de.cfg")["vif"]


def ips(site, name: str) -> list[str]:
    return [v.split(",")[0].strip() for v in vifs(site, name)]


def test_ip_set_then_change_then_remove(tiny_site):
    assert tiny_site.run("create", "small", "web", "--yes").returncode == 0
    assert len(vifs(tiny_site, "web")) == 1
    r = tiny_site.run("ip", "set", "web", "203.0.113.30", "--dry-run")
    assert r.returncode == 0 and "+vif" in r.stdout and len(vifs(tiny_site, "web")) == 1     # dry run: nothing
    r = tiny_site.run("ip", "set", "web", "203.0.113.30", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["old"] is None and res["new"] == "203.0.113.30" and "guest's own network config" in res["note"]
    assert ips(tiny_site, "web") == ["ip=192.168.20.2", "ip=203.0.113.30"]
    assert ";web.hosting.example.de;small;203.0.113.30;" in tiny_site.hosting_csv.read_text()
    assert tiny_site.run("ip", "set", "web", "203.0.113.31").returncode == 0                # change it
    assert ips(tiny_site, "web") == ["ip=192.168.20.2", "ip=203.0.113.31"]
    r = tiny_site.run("ip", "set", "web", "203.0.113.31", "--json")                         # again: no change
    assert json.loads(r.stdout)["changed"] is False
    assert tiny_site.run("ip", "remove", "web").returncode == 0
    assert ips(tiny_site, "web") == ["ip=192.168.20.2"]
    assert ";web.hosting.example.de;small;;" in tiny_site.hosting_csv.read_text()
    assert (tiny_site.cfg_dir / "web.hosting.example.de.cfg.bak").is_file()


def test_ip_set_refuses_bad_and_taken_addresses(tiny_site):
    assert tiny_site.run("create", "small", "a", "203.0.113.40", "--yes").returncode == 0
    assert tiny_site.run("create", "small", "b", "--yes").returncode == 0
    before = tiny_site.hosting_csv.read_bytes()
    for ip, message in (("203.0.113.40", "already the external IP of a.hosting.example.de"),
                        ("192.168.20.9", "inside the internal prefix"), ("nonsense", "not an IPv4 address")):
        r = tiny_site.run("ip", "set", "b", ip)
        assert r.returncode == 2 and message in r.stderr
    assert tiny_site.hosting_csv.read_bytes() == before
    assert tiny_site.run("ip", "set", "a", "203.0.113.40").returncode == 0                # its own: fine


def test_start_and_stop_on_each_host(tiny_site, sshd, fake_xl):
    """STAND-IN: `xl` needs a hypervisor; the recording fake_xl checks the argv on each host."""
    xl, running = fake_xl
    use_ssh_backup(tiny_site, sshd)
    tiny_site.config["toolstack"] = str(xl)
    tiny_site.write_config()
    assert tiny_site.run("create", "small", "pw", "--yes").returncode == 0
    r = tiny_site.run("start", "pw")
    assert r.returncode == 0 and r.stdout == "hosting: started\nbackup: started\n"
    calls = (running.parent / "running.log").read_text().splitlines()
    assert f"local create {tiny_site.cfg_dir}/pw.hosting.example.de.cfg" in calls
    assert f"ssh create {tiny_site.cfg_dir}/pw.backup.example.de.cfg" in calls
    assert sorted(p.name for p in running.iterdir()) == ["pw.backup.example.de", "pw.hosting.example.de"]
    r = tiny_site.run("stop", "pw", "--json")
    assert json.loads(r.stdout)["machines"] == {"hosting": None, "backup": None}
    calls = (running.parent / "running.log").read_text().splitlines()
    assert "local shutdown -w pw.hosting.example.de" in calls and "ssh shutdown -w pw.backup.example.de" in calls
    assert list(running.iterdir()) == []


def test_a_failed_start_is_reported_per_machine(tiny_site, tmp_path):
    half = tmp_path / "half-xl"          # STAND-IN: a toolstack that starts only the hosting machine
    half.write_text('#!/bin/sh\ncase "$2" in *backup*) echo "libxl: error: out of memory" >&2; exit 3;; esac\n')
    half.chmod(0o755)
    tiny_site.config["toolstack"] = str(half)
    tiny_site.write_config()
    assert tiny_site.run("create", "small", "mem", "--yes").returncode == 0
    r = tiny_site.run("start", "mem", "--json")
    assert r.returncode == 1
    machines = json.loads(r.stdout)["machines"]
    assert machines["hosting"] is None and "out of memory" in machines["backup"]
