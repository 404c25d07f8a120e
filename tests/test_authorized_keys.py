"""A customer's SSH public keys into the hosting machine's root: one validator (CLI and web pages),
the shipped role xenpair-authorized-keys, `create --ssh-key`."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.test_create_e2e import mounted
from xenpair.core.validate import ssh_key_problem


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name, args in (("ed", ["-t", "ed25519"]), ("ec", ["-t", "ecdsa"]), ("rsa", ["-t", "rsa", "-b", "3072"]),
                       ("rsa1024", ["-t", "rsa", "-b", "1024"])):
        subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C", f"{name}@customer", "-f", str(d / name)],
                       check=True)
        out[name] = (d / f"{name}.pub").read_text().strip()
    out["dir"] = d
    return out


def test_plain_keys_pass(keys):
    for name in ("ed", "ec", "rsa"):
        assert ssh_key_problem(keys[name]) is None, name
    assert ssh_key_problem(keys["ed"].rsplit(" ", 1)[0]) is None                    # no comment


@pytest.mark.parametrize("make, problem", [
    (lambda k: k["rsa1024"], "an RSA key of 1024 bits is too short (at least 3072)"),
    (lambda k: 'from="10.0.0.1" ' + k["ed"], "is not a key type (options such as from=, command="),
    (lambda k: 'command="/bin/sh" ' + k["ed"], "is not a key type"),
    (lambda k: "ssh-ed25519 AAAA!!!", "the key is not base64"),
    (lambda k: "ssh-ed25519 " + k["rsa"].split()[1], "the key data is not a valid ssh-ed25519 key"),
    (lambda k: k["ed"] + " $(reboot)", "the comment has quotes or shell characters"),
    (lambda k: k["ed"] + "\nssh-ed25519 x", "a key is one line"),
    (lambda k: "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "'ssh-dss' is not a key type"),
    (lambda k: "ssh-ed25519", "not 'TYPE BASE64 [comment]'"),
])
def test_what_is_refused(keys, make, problem):
    assert problem in (ssh_key_problem(make(keys)) or "")


def test_a_bad_key_file_changes_nothing(tiny_site, keys):
    bad = keys["dir"] / "bad.pub"
    bad.write_text(f"# the customer's keys\n{keys['ed']}\n{keys['rsa1024']}\n")
    r = tiny_site.run("create", "small", "shop", "--yes", "--ssh-key", str(bad))
    assert r.returncode == 2
    assert "invalid SSH public key: an RSA key of 1024 bits is too short" in r.stderr
    assert f"where: {bad}:3" in r.stderr
    r = tiny_site.run("create", "small", "shop", "--yes", "--ssh-key", str(keys["dir"] / "missing.pub"))
    assert r.returncode == 2 and "cannot read it (No such file or directory)" in r.stderr
    assert not tiny_site.hosting_csv.exists()


def test_create_puts_the_keys_into_the_hosting_root_only(tiny_site, keys):
    both = keys["dir"] / "both.pub"
    both.write_text(f"{keys['ed']}\n\n{keys['rsa']}\n")
    plan = tiny_site.run("create", "small", "shop", "--ssh-key", str(both), "--ssh-key",
                         str(keys["dir"] / "ed.pub"), "--dry-run", "--json")
    assert plan.returncode == 0, plan.stderr
    machines = json.loads(plan.stdout)["plan"]["summary"]["machines"]
    assert machines["hosting"]["roles"] == ["xenpair-authorized-keys", "xenpair-identity"]
    assert machines["backup"]["roles"] == ["xenpair-identity"]

    r = tiny_site.run("create", "small", "shop", "--yes", "--no-mail", "--ssh-key", str(both), "--ssh-key",
                      str(keys["dir"] / "ed.pub"))
    assert r.returncode == 0, r.stderr
    with mounted(tiny_site.image_dir / "shop.hosting.example.de" / "disk.img") as root:
        f = root / "root/.ssh/authorized_keys"
        assert f.read_text() == f"{keys['ed']}\n{keys['rsa']}\n"          # each key once, as given
        assert oct(os.stat(f).st_mode & 0o777) == "0o600" and oct(os.stat(f.parent).st_mode & 0o777) == "0o700"
    with mounted(tiny_site.image_dir / "shop.backup.example.de" / "disk.img") as root:
        assert not (root / "root/.ssh/authorized_keys").exists()
