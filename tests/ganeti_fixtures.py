"""The one Ganeti test cluster of a test session (tests/ganeti_cluster.py), shared by every
Ganeti test module: bringing it up costs ~20 s."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.ganeti_cluster import Cluster

DEFAULT_CHROOT = "/var/cache/xenpair-test/ganeti-chroot"
IMAGE = "/var/lib/xenpair/images/bookworm/test.tar"       # inside the cluster's root: the tests' golden image


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, real_rootfs):
    chroot = Path(os.environ.get("XENPAIR_TEST_GANETI_CHROOT", DEFAULT_CHROOT))
    if not os.path.lexists(chroot / "usr/sbin/gnt-cluster"):      # a symlink into the chroot
        pytest.fail(f"no Ganeti chroot at {chroot}: run 'make test' (it builds and caches one)")
    c = Cluster(chroot, tmp_path_factory.mktemp("ganeti")).start(binds={real_rootfs: IMAGE})
    yield c
    c.stop()


@pytest.fixture(scope="session")
def os_definition(cluster):
    """xenpair's OS definition on the nodes. Tests of test_ganeti.py above the first that asks for
    it see the cluster without it (the file runs first)."""
    return cluster.install_os()
