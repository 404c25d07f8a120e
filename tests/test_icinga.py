"""dom0 registration on sample Icinga files: host object, first members line after the hostgroup only."""

from __future__ import annotations

import pytest

from tests.test_ssh import host as ssh_host
from xenpair.adapters import icinga
from xenpair.adapters.hosts import LocalHost
from xenpair.config import Config
from xenpair.core import roles
from xenpair.core.machines import MachineSpec

HOSTGROUPS = """\
# hostgroups_icinga.cfg (sample)
define hostgroup {
    hostgroup_name  hosting-servers
    alias           hosting servers
    members         web1.hosting.example.de   ; first customers
}

define hostgroup {
    hostgroup_name  backup-servers
    alias           backup servers
    members         web1.backup.example.de,web2.backup.example.de
}

define hostgroup {
    hostgroup_name  more-backup-servers
    alias           more backup servers
    members         old.backup.example.de
}
"""


def test_only_the_block_with_that_hostgroup_name():
    new = icinga.add_member(HOSTGROUPS, "backup-servers", "shop.backup.example.de")
    assert new.replace("web2.backup.example.de,shop.backup.example.de", "web2.backup.example.de") == HOSTGROUPS
    assert "old.backup.example.de\n" in new                                # the later group is untouched
    assert icinga.add_member(new, "backup-servers", "shop.backup.example.de") == new      # idempotent
    hosting = icinga.add_member(HOSTGROUPS, "hosting-servers", "shop.hosting.example.de")
    assert "members         web1.hosting.example.de,shop.hosting.example.de   ; first customers\n" in hosting


def test_a_similar_group_defined_first_is_not_edited():
    """Issue 10 item 5: the old substring match took 'more-backup-servers' (or its alias) first."""
    text = HOSTGROUPS.split("\n\n")
    swapped = "\n\n".join([text[0].split("define")[0] + text[2].rstrip("\n"), text[1], "define" +
                            text[0].split("define")[1]]) + "\n"
    new = icinga.add_member(swapped, "backup-servers", "x.backup.example.de")
    assert "members         old.backup.example.de\n" in new
    assert "members         web1.backup.example.de,web2.backup.example.de,x.backup.example.de\n" in new


def test_a_group_without_members_gets_a_members_line():
    text = ("define hostgroup {\n    hostgroup_name  backup-servers\n    alias  backup servers\n}\n\n"
            "define hostgroup{\n    hostgroup_name  other\n    members  a.example.de\n}\n")
    new = icinga.add_member(text, "backup-servers", "x.backup.example.de")
    assert new == text.replace("    alias  backup servers\n}", "    alias  backup servers\n"
                               "    members         x.backup.example.de\n}")
    assert icinga.add_member(new, "backup-servers", "x.backup.example.de") == new
    assert icinga.remove_member(new, "a.example.de").endswith("    members\n}\n")


@pytest.mark.parametrize("text", ["define hostgroup {\n alias backup-servers\n members a\n}\n",
                                  "# hostgroup_name backup-servers\n",
                                  "define hostgroup {\n hostgroup_name backup-servers-old\n members a\n}\n",
                                  "define host {\n hostgroup_name backup-servers\n members a\n}\n"])
def test_no_such_hostgroup(text):
    assert icinga.add_member(text, "backup-servers", "x") is None


def test_an_empty_members_line_gets_the_name_without_a_comma():
    assert icinga.add_member("define hostgroup {\nhostgroup_name b\nmembers\n}\n", "b", "x") == \
        "define hostgroup {\nhostgroup_name b\nmembers x\n}\n"


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_register_writes_object_and_member_idempotently_with_bak(where, sshd, tmp_path):
    d = tmp_path / "icinga"
    d.mkdir()
    (d / "hostgroups_icinga.cfg").write_text(HOSTGROUPS)
    config = Config.model_validate({"roles": {"icinga": {"objects_dir": str(d)}, "hosting": ["monitoring"],
                                              "backup": ["monitoring"]}})
    host = LocalHost() if where == "local" else ssh_host(sshd)

    class Site:                                   # the two things register() uses of a site
        hosts = {"backup": host}
    Site.config = config
    spec = MachineSpec(kind="backup", fqdn="shop.backup.example.de", ip="192.168.30.9", prefix=None,
                       bridge="xenbr1", gateway=None, size=None, xci=config.xci("backup"),
                       roles=roles.for_machine(config, "backup", False))
    where_ = roles.registrations(Site, {"backup": spec})["backup"]
    assert where_["hostgroup"] == "backup-servers"
    done = roles.register(Site, spec, where_)
    assert done["problem"] is None and done["member_added"]
    obj = (d / "shop.backup.example.de_icinga.cfg").read_text()
    assert "host_name  shop.backup.example.de\n" in obj and "address    192.168.30.9\n" in obj
    assert "use        generic-host\n" in obj
    assert (d / "hostgroups_icinga.cfg.bak").read_text() == HOSTGROUPS
    after = (d / "hostgroups_icinga.cfg").read_text()
    assert "web2.backup.example.de,shop.backup.example.de\n" in after
    again = roles.register(Site, spec, where_)
    assert again["member_added"] is False and (d / "hostgroups_icinga.cfg").read_text() == after
    assert (d / "hostgroups_icinga.cfg.bak").read_text() == HOSTGROUPS      # not overwritten by a no-op
    (d / "hostgroups_icinga.cfg").write_text("nothing here\n")
    assert "no hostgroup with hostgroup_name 'backup-servers'" in roles.register(Site, spec, where_)["problem"]
    if where == "ssh":
        host.close()


def test_no_objects_dir_no_registration():
    config = Config.model_validate({"roles": {"hosting": ["monitoring"]}})

    class Site:
        pass
    Site.config = config
    assert roles.registrations(Site, {}) == {}


def test_remove_member_from_every_members_line():
    text = icinga.add_member(HOSTGROUPS, "backup-servers", "shop.backup.example.de")
    text = icinga.add_member(text, "more-backup-servers", "shop.backup.example.de")
    assert icinga.remove_member(text, "shop.backup.example.de") == HOSTGROUPS
    assert icinga.remove_member(HOSTGROUPS, "nobody") == HOSTGROUPS
    only = "define hostgroup {\n hostgroup_name b\n    members shop.backup.example.de ; last one\n}\n"
    assert icinga.remove_member(only, "shop.backup.example.de") == only.replace(" shop.backup.example.de ", " ")


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_a_large_hostgroups_file_goes_through_stdin(where, sshd, tmp_path):
    """Issue 10 item 2: a 150 KB hostgroups file was one argv item ('Argument list too long')."""
    from xenpair.adapters import files

    big = HOSTGROUPS + "".join(f"define hostgroup {{\n    hostgroup_name  g{i}\n    members  h{i}.example.de\n}}\n"
                               for i in range(2500))
    assert len(big) > 150_000
    host = LocalHost() if where == "local" else ssh_host(sshd)
    path = tmp_path / "sub" / "hostgroups_icinga.cfg"
    files.write(host, str(path), big)
    assert path.read_text() == big and files.read(host, str(path)) == big
    files.write(host, str(path), big + "# two\n", backup=True)
    assert path.with_name(path.name + ".bak").read_text() == big
    files.write(host, str(path), big + "# three\n", backup=True)
    assert path.with_name(path.name + ".bak").read_text() == big + "# two\n"     # the version before, every time
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp file left
    link = tmp_path / "link.cfg"
    link.symlink_to(path)
    files.write(host, str(link), "through\n")
    assert link.is_symlink() and path.read_text() == "through\n"
    if where == "ssh":
        host.close()
