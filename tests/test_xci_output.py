"""Reading xen-create-image 4.9.2 output: the real samples, and the success rules."""

from pathlib import Path

import pytest

from xenpair.adapters import xen_create_image as xci

DATA = Path(__file__).resolve().parent / "data"


def test_summary_from_real_stdout():
    s = xci.parse_summary((DATA / "web1.stdout").read_text())
    assert s.hostname == "web1.example.com"          # the old `tail -n 8` lost this line
    assert s.distribution == "bookworm"
    assert s.mac == "00:16:3E:4C:F3:C0"
    assert s.ips == ["192.168.1.10"]
    assert s.ssh_fingerprints == [
        {"algorithm": "ECDSA", "fingerprint": "SHA256:DyRpBXU4mHWzv9hjfZOCGUmzelmPhyIXc77R4SzBl0M"},
        {"algorithm": "ED25519", "fingerprint": "SHA256:7EjY2amjUHWrhyL5gukjn93ExrWClhDLF3YObncGEBs"},
        {"algorithm": "RSA", "fingerprint": "SHA256:kW2Tp0ioeJozrWUVsfK7Th+jtCu7H+E+6J2Fy2gUrpE"}]
    assert s.root_password == "QCTY62Ky9rBmmAxwF3frf8B"
    assert xci.logfile((DATA / "web1.stdout").read_text()) == "/var/log/xen-tools/web1.example.com.log"


def test_two_ips_and_explicit_mac():
    s = xci.parse_summary((DATA / "web2.example.com.log").read_text())
    assert s.ips == ["192.168.1.20", "192.168.1.21"]
    assert s.mac == "00:16:3e:aa:bb:cc"


def test_dhcp_summary():
    s = xci.parse_summary((DATA / "db1.example.com.log").read_text())
    assert s.dhcp and s.ips == [] and s.root_password == "S3cret!pw"


def test_last_summary_wins():
    old = (DATA / "web2.example.com.log").read_text()
    new = (DATA / "web1.stdout").read_text()
    assert xci.parse_summary(old + new).hostname == "web1.example.com"


def test_old_43_format_is_still_read():
    text = ("\nInstallation Summary\n---------------------\nHostname        :  foo\n"
            "Distribution    :  wheezy\nIP-Address(es)  :  10.0.0.2 \n"
            "RSA Fingerprint :  aa:bb:cc\nRoot Password   :  N/A\n\n")
    s = xci.parse_summary(text)
    assert (s.hostname, s.ips, s.root_password) == ("foo", ["10.0.0.2"], "")
    assert s.ssh_fingerprints == [{"algorithm": "RSA", "fingerprint": "aa:bb:cc"}]


def test_no_summary():
    assert xci.parse_summary("All done\n") is None


GOOD_OUT = (DATA / "web1.stdout").read_text()
HARMLESS_ERR = (DATA / "web1.stderr").read_text()      # "Couldn't find a useful entry in sources.list"


@pytest.mark.parametrize(("rc", "out", "err", "expected"), [
    (0, GOOD_OUT, HARMLESS_ERR, None),
    (0, GOOD_OUT, "Unknown option: nohooks\n", "xen-create-image rejected its arguments: Unknown option: nohooks"),
    (0, "", "Option gateway requires an argument\n", "rejected its arguments: Option gateway requires"),
    (0, "", "Option m is ambiguous (mac, manual, maxmem, memory, mirror, modules)\n", "is ambiguous"),
    (0, "All done\n", "", "exited 0 but printed no Installation Summary"),
    (127, GOOD_OUT, "", "exited with code 127"),
    (2, "", "read_dir '/tmp/X/etc/ssh' - opendir: No such file\n", "exited with code 2"),
])
def test_success_rules(rc, out, err, expected):
    got = xci.problem(rc, out, err)
    if expected is None:
        assert got is None
    else:
        assert expected in got
