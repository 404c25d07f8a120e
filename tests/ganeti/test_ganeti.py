"""The Ganeti backend (RAPI client, check, address numbers) against a real Ganeti: Debian's
ganeti 3.0.2 as a virtual cluster with the fake hypervisor (tests/ganeti_cluster.py says how and
what stands in for what), four nodes in two groups, two networks, RAPI over TLS on node1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.ganeti.conftest import IMAGE
from tests.ganeti_cluster import NODES
from xenpair.adapters.ganeti_rapi import Rapi, read_credentials
from xenpair.errors import BadInput, Failed


@pytest.fixture
def rapi(cluster, tmp_path):
    creds = tmp_path / "rapi-credentials"
    creds.write_text(f"xenpair:{cluster.password}\n")
    creds.chmod(0o600)
    client = Rapi(cluster.rapi_url, cluster.rapi_cert, read_credentials(creds))
    yield client
    client.close()


def test_reads_groups_and_networks_of_the_cluster(rapi):
    assert rapi.info()["name"] == "cluster"
    groups = {g["name"]: g for g in rapi.groups()}
    assert sorted(groups["hosting"]["node_list"]) == ["node1", "node2"]
    assert sorted(groups["backup"]["node_list"]) == ["node3", "node4"]
    nets = {n["name"]: n for n in rapi.networks()}
    assert nets["hosting-net"]["network"] == "198.51.100.0/24"
    assert [g[0] for g in nets["backup-net"]["group_list"]] == ["backup"]
    assert len(nets["hosting-net"]["map"]) == 256 and nets["hosting-net"]["map"][1] == "X"    # the gateway


def test_a_job_is_followed_to_its_end(rapi, cluster):
    job = rapi.add_tags(["htools:iextags:xenpair"])
    lines: list[str] = []
    done = rapi.wait(job, lines.append, timeout=60)
    assert done["status"] == "success", done
    assert "htools:iextags:xenpair" in rapi.tags()
    assert "htools:iextags:xenpair" in cluster.gnt("gnt-cluster", "list-tags").stdout


def test_wrong_password_unreachable_master_and_foreign_certificate_are_clear_errors(cluster, tmp_path):
    with pytest.raises(BadInput, match="refused the user and password"):
        Rapi(cluster.rapi_url, cluster.rapi_cert, ("xenpair", "wrong")).info()
    with pytest.raises(Failed, match=r"cannot reach the Ganeti RAPI at https://192\.0\.2\.10:5081"):
        Rapi(f"https://{NODES['node1']}:5081", cluster.rapi_cert, ("xenpair", cluster.password)).info()
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=ganeti.example.com",
                    "-keyout", str(tmp_path / "k"), "-out", str(other), "-days", "1"], check=True, capture_output=True)
    with pytest.raises(Failed, match="did not show the cluster's certificate"):
        Rapi(cluster.rapi_url, other, ("xenpair", cluster.password)).info()
    with pytest.raises(BadInput, match="not an https:// URL"):
        Rapi(f"http://{NODES['node1']}:5080", cluster.rapi_cert, ("xenpair", "x"))


def test_the_credentials_file_must_be_roots_alone(tmp_path):
    creds = tmp_path / "creds"
    creds.write_text("xenpair:secret\n")
    creds.chmod(0o644)
    with pytest.raises(BadInput, match="readable or writable by others"):
        read_credentials(creds)
    creds.chmod(0o600)
    assert read_credentials(creds) == ("xenpair", "secret")
    creds.write_text("no colon\n")
    with pytest.raises(BadInput, match="one USER:PASSWORD line"):
        read_credentials(creds)


def ganeti_site(cluster, root: Path, **ganeti) -> Path:
    return cluster.site_config(root, IMAGE, **ganeti)


def check(config: Path) -> tuple[int, dict]:
    import json

    from tests.conftest import XENPAIR

    r = subprocess.run(XENPAIR + ["--config", str(config), "check", "--json"], capture_output=True, text=True,
                       timeout=120)
    return r.returncode, {c["check"]: c for c in json.loads(r.stdout)}


def test_check_asks_the_cluster(cluster, tmp_path):
    code, found = check(ganeti_site(cluster, tmp_path))
    assert found["ganeti RAPI"]["ok"] and "cluster cluster, Ganeti 3.0" in found["ganeti RAPI"]["detail"]
    assert found["ganeti hosting group"]["detail"] == "hosting: node1, node2"
    assert found["ganeti backup network"]["detail"] == "backup-net 203.0.113.0/24, connected to backup"
    assert found["ganeti addresses in common"]["ok"]
    # no OS definition installed yet: the one failure, and it says what to do
    assert code == 1 and not found["ganeti OS definition"]["ok"]
    assert "xenpair+default is not installed" in found["ganeti OS definition"]["detail"]
    assert [name for name, c in found.items() if not c["ok"]] == ["ganeti OS definition"]
    assert not any(name.endswith("dom0") or "xen-create-image" in name for name in found)   # no dom0s here


def test_check_names_what_is_missing_on_the_cluster(cluster, tmp_path):
    code, found = check(ganeti_site(cluster, tmp_path, hosting={"group": "nosuch", "network": "backup-net"}))
    assert code == 1
    assert found["ganeti hosting group"]["detail"] == "nosuch: no such node group (gnt-group add)"
    assert found["ganeti hosting network"]["detail"] == "backup-net: not connected to nosuch (gnt-network connect)"
    creds = tmp_path / "rapi-credentials"
    creds.write_text("xenpair:wrong\n")
    code, found = check(tmp_path / "config.yaml")
    assert code == 1 and "refused the user and password" in found["ganeti RAPI"]["detail"]
    assert "ganeti hosting group" not in found                      # nothing asked of a cluster that refused


def test_the_lowest_number_free_in_both_networks(cluster, rapi):
    from xenpair.core.ganeti import free_in_both

    def nets():
        return {n["name"]: n for n in rapi.networks()}

    assert free_in_both(nets()["hosting-net"], nets()["backup-net"])[:2] == [2, 3]
    cluster.gnt("gnt-network", "modify", "--add-reserved-ips=198.51.100.2,198.51.100.4", "hosting-net")
    cluster.gnt("gnt-network", "modify", "--add-reserved-ips=203.0.113.3", "backup-net")
    try:
        assert free_in_both(nets()["hosting-net"], nets()["backup-net"])[:2] == [5, 6]
    finally:
        cluster.gnt("gnt-network", "modify", "--remove-reserved-ips=198.51.100.2,198.51.100.4", "hosting-net")
        cluster.gnt("gnt-network", "modify", "--remove-reserved-ips=203.0.113.3", "backup-net")


def test_what_only_the_xen_tools_backend_does_is_refused_on_a_cluster(cluster, tmp_path):
    """A site that says `backend: ganeti` must never fall through to xen-create-image, xl or the
    dom0 image store on this host: the golden image of a cluster is ganeti.image on its nodes."""
    from tests.conftest import XENPAIR

    config = ganeti_site(cluster, tmp_path)
    for argv in (["image", "list"], ["image", "build"], ["roles", "sync"]):
        r = subprocess.run(XENPAIR + ["--config", str(config), *argv], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 2 and "works with backend: xen-tools only" in r.stderr, (argv, r.stderr)


def test_the_os_definition_installs_a_guest_from_the_image_with_xenpairs_roles(cluster, os_definition, tmp_path):
    """gnt-instance add with xenpair's OS definition: the golden image, network, hostname, the
    host keys xenpair made (their fingerprints known before), the customer's key through the
    authorized-keys role, the root password — all in the instance's file disk."""
    from xenpair.config import Config
    from xenpair.core.ganeti_os import parameters

    assert "xenpair+default" in cluster.gnt("gnt-os", "list").stdout
    key = tmp_path / "id_customer"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    customer_key = key.with_suffix(".pub").read_text().strip()
    password_hash = subprocess.run(["openssl", "passwd", "-6", "s3cret-root"], capture_output=True, text=True,
                                   check=True).stdout.strip()
    cfg = Config.model_validate({"ready": {"host_key_types": ["ed25519", "ecdsa"]}})
    params, secret, prints = parameters(cfg, "hosting", "shop.hosting.example.de", IMAGE,
                                        authorized_keys=(customer_key,), root_password_hash=password_hash)
    r = cluster.gnt("gnt-instance", "add", "-t", "file", "--disk", "0:size=2G", "-o", "xenpair+default",
                    "-O", ",".join(f"{k}={v}" for k, v in params.items()),
                    "--os-parameters-secret", ",".join(f"{k}={v}" for k, v in secret.items()),
                    "--net", "0:ip=pool,network=hosting-net", "-n", "node1", "--no-start", "--no-name-check",
                    "--no-ip-check", "-B", "memory=512", "shop.hosting.example.de", check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    disk = next((cluster.root / "srv/ganeti/file-storage/shop.hosting.example.de").glob("*disk0"))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop,ro", str(disk), str(mnt)], check=True)
    try:
        assert (mnt / "etc/hostname").read_text() == "shop\n"
        interfaces = (mnt / "etc/network/interfaces").read_text()
        assert " address 198.51.100.2\n netmask 255.255.255.0\n gateway 198.51.100.1" in interfaces
        assert (mnt / "root/.ssh/authorized_keys").read_text().strip() == customer_key
        shown = {}
        for pub in (mnt / "etc/ssh").glob("ssh_host_*_key.pub"):
            line = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True).stdout.split()
            shown[line[-1].strip("()")] = line[1]
        assert shown == {p["algorithm"]: p["fingerprint"] for p in prints}        # exactly the keys xenpair made
        assert f"root:{password_hash}:" in (mnt / "etc/shadow").read_text()
        assert (mnt / "usr/sbin/sshd").exists()                                    # the image's root
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    log = cluster.gnt("gnt-instance", "info", "shop.hosting.example.de").stdout
    assert "s3cret" not in log and password_hash not in log


def test_check_passes_once_the_os_definition_is_there(cluster, os_definition, tmp_path):
    code, found = check(ganeti_site(cluster, tmp_path))
    assert found["ganeti OS definition"]["detail"] == "xenpair+default is valid on every node"
    assert code == 0, {k: c["detail"] for k, c in found.items() if not c["ok"]}


def test_create_a_pair_on_the_cluster(cluster, os_definition, tmp_path):
    """`xenpair create` on backend: ganeti: each machine in its group, the same number in both
    networks, the exclusion tag on both, the OS definition ran (the disk holds the keys whose
    fingerprints xenpair recorded), the registry written as a record."""
    import json

    from tests.conftest import XENPAIR

    config = ganeti_site(cluster, tmp_path)
    cluster.gnt("gnt-network", "modify", "--add-reserved-ips=198.51.100.2", "hosting-net")   # 2 is not common
    try:
        r = subprocess.run(XENPAIR + ["--config", str(config), "create", "small", "pair1", "--no-external-ip",
                                      "--no-start", "--no-mail", "--yes", "--json"], capture_output=True, text=True,
                           timeout=900, stdin=subprocess.DEVNULL)
    finally:
        cluster.gnt("gnt-network", "modify", "--remove-reserved-ips=198.51.100.2", "hosting-net")
    assert r.returncode == 0, r.stderr[-4000:]
    res = json.loads(r.stdout)
    assert res["ok"] and res["n"] == 3, res
    listing = cluster.gnt("gnt-instance", "list", "--no-headers", "-o", "name,pnode,nic.ip/0,tags").stdout
    rows = {line.split()[0]: line.split() for line in listing.splitlines()}
    assert rows["pair1.hosting.example.de"][1] in ("node1", "node2")          # the hosting group
    assert rows["pair1.backup.example.de"][1] in ("node3", "node4")           # the backup group
    assert rows["pair1.hosting.example.de"][2] == "198.51.100.3" and rows["pair1.backup.example.de"][2] == "203.0.113.3"
    assert all("xenpair:pair1" in rows[f][3] for f in ("pair1.hosting.example.de", "pair1.backup.example.de"))
    assert "198.51.100.3;pair1.hosting.example.de;small" in (tmp_path / "h.csv").read_text()
    assert "203.0.113.3;pair1.backup.example.de;small" in (tmp_path / "b.csv").read_text()
    shown = json.loads(subprocess.run(XENPAIR + ["--config", str(config), "show", "pair1", "--json"],
                                      capture_output=True, text=True).stdout)
    recorded = shown["backup"]["host_keys"]
    assert recorded == res["backup"]["summary"]["ssh_fingerprints"] and len(recorded) == 1
    disk = next((cluster.root / "srv/ganeti/file-storage/pair1.backup.example.de").glob("*disk0"))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop,ro", str(disk), str(mnt)], check=True)
    try:
        pub = next((mnt / "etc/ssh").glob("ssh_host_ed25519_key.pub"))
        line = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True).stdout.split()
        assert line[1] == recorded[0]["fingerprint"]
        assert (mnt / "etc/hostname").read_text() == "pair1\n"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_two_creates_racing_for_one_number(cluster, os_definition, tmp_path):
    """Both read the same lowest common number; Ganeti gives each address once: one create gets
    it, the other is refused, removes its half and takes the next number — in its log."""
    import json

    from tests.conftest import XENPAIR

    config = ganeti_site(cluster, tmp_path)
    argv = XENPAIR + ["--config", str(config), "create", "small", "NAME", "--no-external-ip", "--no-start",
                      "--no-mail", "--yes", "--json"]
    procs = [subprocess.Popen([name if a == "NAME" else a for a in argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
             for name in ("race1", "race2")]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-3000:] for _, err in outs]
    results = [json.loads(out) for out, _ in outs]
    numbers = sorted(r["n"] for r in results)
    assert numbers[0] != numbers[1], results
    retried = [r for r in results if len(r["attempts"]) > 1]
    assert retried and "taken by another create" in retried[0]["attempts"][0], [r["attempts"] for r in results]
    ips = cluster.gnt("gnt-instance", "list", "--no-headers", "-o", "name,nic.ip/0").stdout
    assert len({line.split()[1] for line in ips.splitlines()}) == len(ips.splitlines())      # no address twice


def test_destroy_frees_both_addresses(cluster, os_definition, tmp_path):
    import json

    from tests.conftest import XENPAIR

    config = ganeti_site(cluster, tmp_path)

    def xp(*argv):
        return subprocess.run(XENPAIR + ["--config", str(config), *argv], capture_output=True, text=True,
                              timeout=600, stdin=subprocess.DEVNULL)

    r = xp("create", "small", "gone", "--no-external-ip", "--no-start", "--no-mail", "--yes", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    n = json.loads(r.stdout)["n"]
    ips = (f"198.51.100.{n}", f"203.0.113.{n}")
    maps = {net["name"]: net["map"] for net in Rapi(cluster.rapi_url, cluster.rapi_cert,
                                                    ("xenpair", cluster.password)).networks()}
    assert maps["hosting-net"][n] == "X" and maps["backup-net"][n] == "X"
    plan = xp("destroy", "gone", "--dry-run", "--json")
    assert plan.returncode == 0 and "DELETE" in plan.stdout
    r = xp("destroy", "gone", "--yes", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    listing = cluster.gnt("gnt-instance", "list", "--no-headers", "-o", "name").stdout
    assert "gone." not in listing
    maps = {net["name"]: net["map"] for net in Rapi(cluster.rapi_url, cluster.rapi_cert,
                                                    ("xenpair", cluster.password)).networks()}
    assert maps["hosting-net"][n] == "." and maps["backup-net"][n] == "."         # both numbers free again
    assert ips[0] not in (tmp_path / "h.csv").read_text() and xp("show", "gone").returncode == 2


def test_a_full_pool_is_a_clear_error(cluster, os_definition, tmp_path):
    """Two tiny networks (data only, documentation range) whose one usable address is reserved."""
    for name, net, gw, group in (("full-h", "192.0.2.128/30", "192.0.2.129", "hosting"),
                                 ("full-b", "192.0.2.132/30", "192.0.2.133", "backup")):
        cluster.gnt("gnt-network", "add", f"--network={net}", f"--gateway={gw}", name)
        cluster.gnt("gnt-network", "connect", "--nic-parameters=mode=bridged,link=gntbr0", name, group)
    cluster.gnt("gnt-network", "modify", "--add-reserved-ips=192.0.2.130", "full-h")
    config = ganeti_site(cluster, tmp_path, hosting={"group": "hosting", "network": "full-h"},
                         backup={"group": "backup", "network": "full-b"})
    import yaml

    data = yaml.safe_load(config.read_text())
    data["hosting"]["prefix"], data["backup"]["prefix"] = "192.0.2.128/30", "192.0.2.132/30"
    config.write_text(yaml.safe_dump(data))
    from tests.conftest import XENPAIR

    r = subprocess.run(XENPAIR + ["--config", str(config), "create", "small", "nope", "--no-external-ip",
                                  "--no-start", "--no-mail", "--yes"], capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stderr
    assert "no address number is free in both full-h and full-b" in r.stderr
    assert "nope." not in cluster.gnt("gnt-instance", "list", "--no-headers", "-o", "name").stdout
    assert not (tmp_path / "h.csv").exists()


def test_install_os_writes_the_definition_whole_or_as_a_tar_and_refuses_folders_others_can_change(tmp_path):
    import tarfile

    from tests.conftest import XENPAIR
    from xenpair.core.ganeti_os import files

    def xp(*argv):
        return subprocess.run(XENPAIR + ["ganeti", "install-os", *argv], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    r = xp(str(tmp_path / "new" / "os" / "xenpair"))                    # a new node: the folders are made
    assert r.returncode == 0 and (tmp_path / "new/os/xenpair/create").is_file(), r.stderr
    target = tmp_path / "os" / "xenpair"
    target.mkdir(parents=True)
    (target / "stale-from-an-older-version").write_text("x")
    r = xp(str(target))
    assert r.returncode == 0, r.stderr
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == sorted(files())
    assert (target / "create").stat().st_mode & 0o777 == 0o755 and (target / "roles/base").is_file()
    assert not list(tmp_path.glob("os/*.xenpair-*"))                  # nothing left beside it
    r = xp("--tar", str(tmp_path / "os.tar"))
    assert r.returncode == 0, r.stderr
    with tarfile.open(tmp_path / "os.tar") as t:
        assert {m.name: t.extractfile(m).read() for m in t.getmembers()} == {k: v[0] for k, v in files().items()}
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    r = xp(str(shared / "xenpair"))
    assert r.returncode == 2 and f"{shared} can be changed by another user" in r.stderr
    assert not (shared / "xenpair").exists()
