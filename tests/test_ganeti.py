"""The Ganeti backend (RAPI client, check, address numbers) against a real Ganeti: Debian's
ganeti 3.0.2 as a virtual cluster with the fake hypervisor (tests/ganeti_cluster.py says how and
what stands in for what), four nodes in two groups, two networks, RAPI over TLS on node1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.ganeti_cluster import NODES, Cluster
from xenpair.adapters.ganeti_rapi import Rapi, read_credentials
from xenpair.errors import BadInput, Failed

DEFAULT_CHROOT = "/var/cache/xenpair-test/ganeti-chroot"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    chroot = Path(os.environ.get("XENPAIR_TEST_GANETI_CHROOT", DEFAULT_CHROOT))
    if not os.path.lexists(chroot / "usr/sbin/gnt-cluster"):      # a symlink into the chroot
        pytest.fail(f"no Ganeti chroot at {chroot}: run 'make test' (it builds and caches one)")
    c = Cluster(chroot, tmp_path_factory.mktemp("ganeti")).start()
    yield c
    c.stop()


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
    """A site config with `backend: ganeti` for this cluster, and its credentials file."""
    import yaml

    creds = root / "rapi-credentials"
    creds.write_text(f"xenpair:{cluster.password}\n")
    creds.chmod(0o600)
    config = {"backend": "ganeti", "log_dir": str(root / "logs"),
              "registry": {"hosting": str(root / "h.csv"), "backup": str(root / "b.csv")},
              "ganeti": {"rapi": cluster.rapi_url, "rapi_certificate": str(cluster.rapi_cert),
                         "credentials_file": str(creds), "disk_template": "file",
                         "hosting": {"group": "hosting", "network": "hosting-net"},
                         "backup": {"group": "backup", "network": "backup-net"}, **ganeti}}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


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


def test_commands_that_build_refuse_on_the_ganeti_backend_for_now(cluster, tmp_path):
    """Until the backend builds (issue 14), a site that says `backend: ganeti` must never fall
    through to xen-create-image on this host."""
    from tests.conftest import XENPAIR

    config = ganeti_site(cluster, tmp_path)
    for argv in (["create", "package1", "shop", "--no-external-ip", "--yes", "--no-mail"], ["start", "shop"],
                 ["destroy", "shop", "--yes"]):
        r = subprocess.run(XENPAIR + ["--config", str(config), *argv], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 2, (argv, r.stderr)
        assert "backend: ganeti carries out only 'check', 'list' and 'show' so far" in r.stderr or \
            "no pair named 'shop'" in r.stderr, (argv, r.stderr)
    assert not (tmp_path / "h.csv").exists() and not (tmp_path / "b.csv").exists()
    assert "ganeti carries out only" in subprocess.run(
        XENPAIR + ["--config", str(config), "create", "package1", "shop", "--no-external-ip", "--yes", "--no-mail"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL).stderr
