"""Issue 10 items 9 and 14: what is never handed out (dom0, gateways, network/broadcast), through the CLI."""

from __future__ import annotations

import json

import pytest


def plan_n(site, name="next") -> int:
    r = site.run("create", "small", name, "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["plan"]["summary"]["n"]


def test_a_gateway_at_254_does_not_make_destroyed_addresses_come_back(tiny_site):
    tiny_site.config["hosting"]["gateway"] = "192.168.20.254"
    tiny_site.config["backup"]["gateway"] = "192.168.30.254"
    tiny_site.write_config()
    for name in ("a", "b", "c"):
        assert tiny_site.run("create", "small", name, "--yes", "--no-start").returncode == 0
    assert tiny_site.run("destroy", "b", "--yes").returncode == 0
    assert plan_n(tiny_site) == 5                 # highest (4) + 1, not b's 3


def test_a_header_only_registry_never_hands_out_the_dom0_address(tiny_site):
    tiny_site.hosting_csv.write_text("IP;Name;Package;external IP;Date created\n")
    tiny_site.backup_csv.write_text("IP;Name;Package;Date created\n")
    assert plan_n(tiny_site) == 2
    tiny_site.config["hosting"]["reserved"] = []
    tiny_site.config["backup"]["reserved"] = []
    tiny_site.write_config()
    assert plan_n(tiny_site) == 1                 # the config says the first address is free


def test_a_gateway_on_a_pairs_address_is_refused(tiny_site):
    assert tiny_site.run("create", "small", "a", "--yes", "--no-start").returncode == 0
    tiny_site.config["hosting"]["gateway"] = "192.168.20.2"
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "b", "--dry-run")
    assert r.returncode == 2 and "hosting.gateway 192.168.20.2 is the address of pair a" in r.stderr
    assert f"{tiny_site.hosting_csv}:3" in r.stderr


@pytest.mark.parametrize("config,why", [
    ({"hosting": {"gateway": "192.168.20.0"}}, "is the network or broadcast address"),
    ({"backup": {"gateway": "192.168.30.255"}}, "is the network or broadcast address"),
    ({"hosting": {"reserved": ["192.168.21.1"]}}, "is not a host address of prefix"),
])
def test_bad_gateways_and_reserved_addresses_in_the_config(tiny_site, config, why):
    for side, values in config.items():
        tiny_site.config[side].update(values)
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "x", "--dry-run")
    assert r.returncode == 2 and why in r.stderr


@pytest.mark.parametrize("ip,why", [("203.0.113.0", "network address of 203.0.113.0/24"),
                                     ("203.0.113.255", "broadcast address of 203.0.113.0/24"),
                                     ("203.0.113.1", "is the external gateway")])
def test_external_ip_on_the_network_broadcast_or_gateway(tiny_site, ip, why):
    tiny_site.config["external"] = {"netmask": "255.255.255.0", "gateway": "203.0.113.1"}
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "x", ip, "--dry-run")
    assert r.returncode == 2 and why in r.stderr
