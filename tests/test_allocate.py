from ipaddress import IPv4Address, IPv4Network

import pytest

from xenpair.core.allocate import address, allocate, host_number
from xenpair.errors import Failed

H24, B24 = IPv4Network("192.168.20.0/24"), IPv4Network("192.168.30.0/24")


def test_first_pair_after_the_dom0():
    assert allocate(H24, B24, {1}) == 2


def test_empty_registry_starts_at_one():
    assert allocate(H24, B24, set()) == 1


def test_next_is_highest_plus_one_not_last_line_plus_one():
    # rows out of order (7 written before 4): the old wrapper's "last line + 1" would give 5
    assert allocate(H24, B24, {1, 2, 7, 4}) == 8


def test_gaps_are_not_reused_while_the_top_is_free():
    assert allocate(H24, B24, {1, 2, 5, 9}) == 10


def test_past_the_end_takes_the_lowest_free_in_both():
    used = set(range(1, 255)) - {17, 40}
    assert allocate(H24, B24, used) == 17


def test_never_network_or_broadcast():
    used = set(range(1, 254))
    assert allocate(H24, B24, used) == 254
    assert address(H24, 254) == IPv4Address("192.168.20.254")


def test_full_prefix_is_a_clear_error():
    with pytest.raises(Failed) as e:
        allocate(H24, B24, set(range(1, 255)))
    assert "no free address left: all 254 host numbers" in str(e.value)


def test_n_used_on_either_side_counts():
    # N=3 exists only in the backup registry: still taken
    assert allocate(H24, B24, {1, 2, 3}) == 4


def test_slash16_prefixes():
    h, b = IPv4Network("10.20.0.0/16"), IPv4Network("10.30.0.0/16")
    assert allocate(h, b, {1, 255, 256}) == 257
    assert address(h, 257) == IPv4Address("10.20.1.1")
    assert host_number(IPv4Address("10.30.1.1"), b) == 257
    used = set(range(1, 65535)) - {300}
    assert allocate(h, b, used) == 300
    with pytest.raises(Failed):
        allocate(h, b, set(range(1, 65535)))


def test_smaller_prefix_limits_n():
    assert allocate(IPv4Network("10.20.0.0/16"), B24, set(range(1, 255)) - {9}) == 9


def test_reserved_numbers_are_skipped_but_are_not_the_highest():
    """Issue 10 item 9: a gateway at .254 made every allocation 'lowest free'."""
    assert allocate(H24, B24, {2, 3, 5}, frozenset({1, 254})) == 6          # not 4, the destroyed pair's
    assert allocate(H24, B24, set(), frozenset({1, 254})) == 2
    assert allocate(H24, B24, {2, 3}, frozenset({1, 4})) == 5               # a reserved number is skipped
    with pytest.raises(Failed):
        allocate(H24, B24, set(range(2, 254)), frozenset({1, 254}))
