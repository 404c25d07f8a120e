"""Names and external IPs: a table of bad input, each with the message a person sees."""

from ipaddress import IPv4Address

import pytest

from xenpair.config import Config
from xenpair.core.validate import check_external_ip, check_name, external_ip_problem, name_problem
from xenpair.errors import BadInput

BAD_NAMES = [
    ("", "the name is empty"),
    ("a;b", "the name contains ';'"),
    ("Foo", "the name contains uppercase letters"),
    ("x..y", "the name contains '.': give the short name only"),
    ("foo.hosting.example.de", "the name contains '.'"),
    ("a" * 64, "the name is 64 characters long (at most 63)"),
    ("-x", "the name starts or ends with '-'"),
    ("x-", "the name starts or ends with '-'"),
    ("foo bar", "the name contains ' '"),
    ("föö", "the name contains 'ö'"),
    ("a$(reboot)", "the name contains '$', '(', ')'"),
    ("web_1", "the name contains '_'"),
]
GOOD_NAMES = ["a", "customer42", "web-1", "0", "a" * 63, "x-y-z", "123"]


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_bad_names(name, message):
    assert name_problem(name).startswith(message)
    with pytest.raises(BadInput) as e:
        check_name(name)
    assert "one DNS label" in e.value.hint


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names(name):
    assert check_name(name) == name


INTERNAL = Config()                 # the internal prefixes 192.168.20.0/24 and 192.168.30.0/24
USED = {IPv4Address("198.51.100.20"): "foobar.hosting.example.de"}
BAD_IPS = [
    ("", "'' is not an IPv4 address"),
    ("203.0.113", "'203.0.113' is not an IPv4 address"),
    ("203.0.113.300", "'203.0.113.300' is not an IPv4 address"),
    ("203.0.113.01", "'203.0.113.01' is not an IPv4 address"),
    ("2001:db8::1", "'2001:db8::1' is not an IPv4 address"),
    ("1.2.3.4;reboot", "'1.2.3.4;reboot' is not an IPv4 address"),
    ("0.0.0.0", "0.0.0.0 is an unspecified address"),
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("224.0.0.5", "224.0.0.5 is a multicast address"),
    ("169.254.1.1", "169.254.1.1 is a link-local address"),
    ("240.0.0.1", "240.0.0.1 is a reserved address"),
    ("255.255.255.255", "255.255.255.255 is a reserved address"),
    ("192.168.20.9", "192.168.20.9 is inside the internal prefix 192.168.20.0/24"),
    ("192.168.30.200", "192.168.30.200 is inside the internal prefix 192.168.30.0/24"),
    ("198.51.100.20", "198.51.100.20 is already the external IP of foobar.hosting.example.de"),
]


@pytest.mark.parametrize(("text", "message"), BAD_IPS)
def test_bad_external_ips(text, message):
    assert external_ip_problem(text, INTERNAL, USED).startswith(message)
    with pytest.raises(BadInput):
        check_external_ip(text, INTERNAL, USED)


@pytest.mark.parametrize("text", ["203.0.113.10", "198.51.100.21", "10.1.2.3", "192.168.21.5"])
def test_good_external_ips(text):
    assert check_external_ip(text, INTERNAL, USED) == IPv4Address(text)
