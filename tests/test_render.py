"""Rendering for people: values are printed as they are."""

from xenpair.cli import render


def test_mac_and_passwords_are_printed_verbatim(capsys):
    machine = {"fqdn": "a.hosting.example.de", "ok": True, "host": "local", "elapsed_s": 1.0,
               "cfg": "/etc/xen/a.cfg", "log": "/var/log/xen-tools/a.log", "ip": "192.168.20.2",
               "summary": {"hostname": "a", "distribution": "bookworm", "mac": "00:16:3E:ab:71:F9",
                           "ips": ["192.168.20.2"], "ssh_fingerprints": [], "root_password": "[b]x:ok:y"}}
    result = {"name": "a", "tier": "t", "n": 2, "ok": True, "state": "created", "hosting": machine,
              "backup": {**machine, "fqdn": "a.backup.example.de"}, "kept": [], "run_log": "/x.log", "next": None}
    render.pair_result(result, as_json=False)
    out = capsys.readouterr().out
    assert "00:16:3E:ab:71:F9" in out and "[b]x:ok:y" in out
