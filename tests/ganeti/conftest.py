"""The one Ganeti test cluster (tests/ganeti_cluster.py) for every test in this folder: up in
~20 s, and gone when the folder's tests are done — its bridge holds documentation addresses
that the other tests' guest networks (tests/bootnet.py) use too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.ganeti_cluster import Cluster

DEFAULT_CHROOT = "/var/cache/xenpair-test/ganeti-chroot"
IMAGE = "/var/lib/xenpair/images/bookworm/test.tar"       # inside the cluster's root: the tests' golden image


@pytest.fixture(scope="package")
def cluster(tmp_path_factory, real_rootfs):
    chroot = Path(os.environ.get("XENPAIR_TEST_GANETI_CHROOT", DEFAULT_CHROOT))
    if not os.path.lexists(chroot / "usr/sbin/gnt-cluster"):      # a symlink into the chroot
        pytest.fail(f"no Ganeti chroot at {chroot}: run 'make test' (it builds and caches one)")
    c = Cluster(chroot, tmp_path_factory.mktemp("ganeti")).start(binds={real_rootfs: IMAGE})
    yield c
    c.stop()


@pytest.fixture(scope="package")
def os_definition(cluster):
    """xenpair's OS definition on the nodes. Tests of test_ganeti.py above the first that asks for
    it see the cluster without it (that file runs first)."""
    return cluster.install_os()
