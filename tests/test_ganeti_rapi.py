"""xenpair's RAPI client (xenpair/adapters/ganeti_rapi.py) against a real Ganeti: Debian's
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
