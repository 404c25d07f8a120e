"""The sandbox every test runs in (tests/sandbox.py): its own network and mount namespaces."""

import os
import socket


def test_nothing_beyond_loopback_is_reachable():
    with socket.socket() as s:
        s.settimeout(3)
        assert s.connect_ex(("192.0.2.1", 80)) != 0              # TEST-NET-1: no route beyond loopback
    with socket.socket() as srv:                                 # while loopback works
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        socket.create_connection(srv.getsockname(), timeout=3).close()


def test_the_real_xen_state_is_covered():
    mounted = {line.split()[4] for line in open("/proc/self/mountinfo")}
    assert {"/etc/xen", "/var/log/xen-tools", "/etc/hosts", "/usr/share/xen-tools"} <= mounted
    for path in ("/etc/resolv.conf", "/etc/shadow"):
        assert path in mounted or not os.path.exists(path)
    assert os.path.realpath("/etc/xen") == "/etc/xen"
