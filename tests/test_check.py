"""xenpair check against a good and a broken site (real sshd, real xen-create-image)."""

from __future__ import annotations

import json

from tests.conftest import old_wrapper_registry, use_ssh_backup


def checks(site) -> tuple[int, dict[str, dict]]:
    r = site.run("check", "--json")
    return r.returncode, {c["check"]: c for c in json.loads(r.stdout)}


def test_good_site_with_backup_over_ssh(ssh_site, sshd):
    old_wrapper_registry(ssh_site)
    code, got = checks(ssh_site)
    assert code == 0, got
    backup = f"backup dom0 (root@127.0.0.1:{sshd.port})"
    assert set(got) == {"config", "config cache", "packages", "registry", "registry consistent", "pairs complete",
                        "hosting dom0 (local) root", "hosting dom0 (local) xen-create-image",
                        "hosting dom0 (local) storage", "hosting dom0 (local) cfg_dir",
                        "hosting dom0 (local) roles", "hosting dom0 (local) toolstack",
                        "hosting dom0 (local) known_hosts",
                        f"{backup} ssh", f"{backup} root", f"{backup} xen-create-image",
                        f"{backup} storage", f"{backup} cfg_dir", f"{backup} roles", f"{backup} toolstack",
                        f"{backup} known_hosts", "hosting dom0 (local) images", f"{backup} images"}
    # the default ready.known_hosts is a file OpenSSH reads: no warning
    assert got["hosting dom0 (local) known_hosts"]["detail"].startswith("/etc/ssh/ssh_known_hosts2: OpenSSH reads")
    assert not got[f"{backup} known_hosts"]["warning"]
    assert got[f"{backup} xen-create-image"]["detail"] == "xen-create-image release 4.9.2"
    assert got[f"{backup} ssh"]["detail"].startswith("logged in; host key ssh-ed25519 SHA256:")
    assert got["registry"]["detail"].startswith("3 pairs")
    assert got[f"{backup} images"]["detail"].startswith("not used: xen_create_image.extra_args set the install")
    text = ssh_site.run("check")
    assert text.returncode == 0 and text.stdout.splitlines()[-1] == "21 ok, 2 warning(s), 0 failed"


def test_broken_site(tiny_site, sshd, tmp_path):
    use_ssh_backup(tiny_site, sshd)
    tiny_site.config["backup"]["xen_create_image"] = {"command": "/usr/local/bin/no-xen-create-image",
                                                       "storage": {"dir": str(tmp_path / "missing")}}
    tiny_site.write_config()
    tiny_site.hosting_csv.write_text("IP;Name;Package;external IP;Date created;State\n192.168.20.1;Hosting;Xen-Host\n"
                                     "192.168.20.2;a.hosting.example.de;small;;d;created\n"
                                     "192.168.20.3;b.hosting.example.de;small;;d;failed\n")
    tiny_site.backup_csv.write_text("IP;Name;Package;Date created;State\n"
                                    "192.168.30.3;b.backup.example.de;small;d;created\n")
    code, got = checks(tiny_site)
    assert code == 1
    failed = {name for name, c in got.items() if not c["ok"]}
    backup = f"backup dom0 (root@127.0.0.1:{sshd.port})"
    assert failed == {"registry consistent", "pairs complete", f"{backup} xen-create-image", f"{backup} storage"}
    assert "a (address number 2): only a hosting row" in got["registry consistent"]["detail"]
    incomplete = got["pairs complete"]["detail"]
    assert "b (failed (hosting))" in incomplete and "xenpair repair" in incomplete


def test_unknown_host_key_and_bad_config(tiny_site, sshd, tmp_path):
    empty = tmp_path / "kh"
    empty.write_text("")
    use_ssh_backup(tiny_site, sshd, known_hosts=str(empty))
    code, got = checks(tiny_site)
    backup = f"backup dom0 (root@127.0.0.1:{sshd.port}) ssh"
    assert code == 1 and not got[backup]["ok"] and "is not known" in got[backup]["detail"]
    tiny_site.config_path.write_text("hosting: {prefix: nonsense}\n")
    r = tiny_site.run("check")
    assert r.returncode == 1 and r.stdout.startswith("FAIL  config: invalid config")
