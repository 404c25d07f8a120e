"""Site config and packages.yaml: defaults, and every problem reported at once with file:line."""

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from xenpair.config import Config, load_config, load_packages, resolve_tier, shipped_packages_file
from xenpair.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_defaults_are_the_old_wrappers_values(monkeypatch, tmp_path):
    monkeypatch.delenv("XENPAIR_CONFIG", raising=False)
    c = Config()
    assert str(c.registry.hosting) == "/root/xen_hosting_ips.csv"
    assert str(c.registry.backup) == "/root/xen_backup_ips.csv"
    assert c.hosting.prefix == IPv4Network("192.168.20.0/24")
    assert c.backup.prefix == IPv4Network("192.168.30.0/24")
    assert (c.hosting.domain, c.backup.domain) == ("hosting.example.de", "backup.example.de")
    assert c.hosting.bridge == c.backup.bridge == "xenbr1"
    assert c.backup.host == "local"
    x = c.xen_create_image
    assert (x.dist, x.fs, x.pygrub, x.storage.lvm, x.cfg_dir) == ("bookworm", "ext4", True, "vg0", "/etc/xen")


def test_shipped_packages_are_the_old_tiers():
    tiers = load_packages(Config())
    # one source: the package ships the top-level packages.yaml (xenpair/packages.yaml links to it)
    assert (REPO / "xenpair" / "packages.yaml").resolve() == (REPO / "packages.yaml").resolve()
    assert shipped_packages_file().read_bytes() == (REPO / "packages.yaml").read_bytes()
    got = {name: (t.hosting.ram_mb, t.hosting.vcpus, t.hosting.disk_gb, t.hosting.swap,
                  t.backup.ram_mb, t.backup.vcpus, t.backup.disk_gb, t.backup.swap)
           for name, t in tiers.items()}
    assert got == {"package1": (1024, 1, 25, 1024, 256, 1, 25, 256),
                   "package2": (4096, 4, 50, 4096, 256, 1, 50, 256),
                   "package3": (8192, 8, 250, 8192, 256, 1, 250, 256)}


def test_tier_names():
    tiers = load_packages(Config())
    assert resolve_tier(tiers, "2") == "package2"
    assert resolve_tier(tiers, "package3") == "package3"
    with pytest.raises(ConfigError) as e:
        resolve_tier(tiers, "4")
    assert "unknown package '4'" in str(e.value) and "package1, package2, package3" in str(e.value)


def test_config_lookup_order(monkeypatch, tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("hosting: {domain: a.example}\n")
    b.write_text("hosting: {domain: b.example}\n")
    monkeypatch.setenv("XENPAIR_CONFIG", str(b))
    assert load_config(str(a))[0].hosting.domain == "a.example"
    assert load_config(None)[0].hosting.domain == "b.example"


def test_every_config_problem_at_once_with_file_line_and_key(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "registry:\n"
        "  hosting: /tmp/h.csv\n"
        "  backpu: /tmp/b.csv\n"                       # 3: typo
        "hosting:\n"
        "  prefix: 192.168.20.0/33\n"                  # 5: bad prefix
        "  domain: Hosting_Example\n"                  # 6: bad domain
        "backup:\n"
        "  gateway: 10.0.0.1\n"                        # 8: outside the prefix
        "xen_create_image:\n"
        "  fs: ntfs\n"                                 # 10
        "  storage: {lvm: vg0, dir: /srv/xen}\n"       # 11: both
        "  extra_args: ['--memory=2G', '--gateway=', 'nodash', '--debug', '--install-method=tar']\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    text = str(e.value)
    expected = [
        f"{path}:3: registry.backpu: unknown key",
        f"{path}:5: hosting.prefix:",
        f"{path}:6: hosting.domain: must be a DNS domain",
        f"{path}:7: backup: gateway 10.0.0.1 is not inside prefix 192.168.30.0/24",
        f"{path}:10: xen_create_image.fs: Input should be",
        f"{path}:11: xen_create_image.storage: give exactly one of",
        f"{path}:12: xen_create_image.extra_args.0: '--memory=2G' sets --memory",
        f"{path}:12: xen_create_image.extra_args.1: '--gateway=' has an empty value",
        f"{path}:12: xen_create_image.extra_args.2: 'nodash' is not a long option",
        f"{path}:12: xen_create_image.extra_args.3: '--debug' is not allowed",
    ]
    for line in expected:
        assert line in text, f"missing {line!r} in:\n{text}"
    assert "(10 problem(s))" in text
    assert "extra_args.4" not in text


@pytest.mark.parametrize(("host", "target"), [
    ("local", None),
    ("backup-dom0", ("root", "backup-dom0", 22)),
    ("192.0.2.1:2222", ("root", "192.0.2.1", 2222)),
    ("xen@backup.example.de:22", ("xen", "backup.example.de", 22)),
])
def test_backup_host_targets(tmp_path, host, target):
    path = tmp_path / "c.yaml"
    path.write_text(f"backup:\n  host: '{host}'\n")
    got = load_config(str(path))[0].backup.target
    assert (tuple(got) if got else None) == target


@pytest.mark.parametrize("host", ["", "-oProxyCommand=x", "root@", "a b", "h:0", "h:70000", "h;reboot", "@h"])
def test_bad_backup_hosts(tmp_path, host):
    path = tmp_path / "c.yaml"
    path.write_text(f"backup:\n  host: '{host}'\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert f"{path}:1: backup: host " in str(e.value) and "[user@]host[:port]" in str(e.value)


def test_per_side_xen_create_image_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("xen_create_image: {storage: {lvm: vg0}, extra_args: [--nohosts]}\n"
                    "backup:\n"
                    "  xen_create_image: {storage: {dir: /srv/backup}, command: /usr/local/bin/xci}\n")
    c = load_config(str(path))[0]
    assert c.xci("hosting") == c.xen_create_image
    b = c.xci("backup")
    assert (b.storage.dir, b.storage.lvm, b.command, b.extra_args) == ("/srv/backup", None, "/usr/local/bin/xci",
                                                                       ["--nohosts"])


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("hosting:\n  domain: [unclosed\nbackup: {}\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert "not valid YAML" in str(e.value) and f"{path}:" in str(e.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(str(tmp_path / "nope.yaml"))
    assert "cannot read config" in str(e.value)


def test_every_packages_problem_at_once(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "package1:\n"
        "  hosting: {ram_mb: 1024, vcpus: 1, disk_gb: 25}\n"
        "  backup: {ram_mb: 256, vcpus: 1, disk_gb: 25}\n"
        "package2:\n"
        "  hosting: {ram_mb: -5, vcpus: 0, disk_gb: 50, colour: red}\n"
        "  backup: {ram_mb: 256, vcpus: 1}\n"
        "bad;name:\n"
        "  hosting: {ram_mb: 1, vcpus: 1, disk_gb: 1}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_packages(Config(packages_file=path))
    text = str(e.value)
    for line in (f"{path}:5: package2.hosting.ram_mb: Input should be greater than or equal to 32",
                 f"{path}:5: package2.hosting.vcpus: Input should be greater than or equal to 1",
                 f"{path}:5: package2.hosting.colour: unknown key",
                 f"{path}:6: package2.backup.disk_gb: Field required",
                 f"{path}:7: bad;name: tier names are"):
        assert line in text, f"missing {line!r} in:\n{text}"


def test_demo_config_stays_in_its_folder():
    """`make demo` writes nothing outside /var/tmp/xenpair-demo but xen-tools' own log."""
    c, _ = load_config(str(REPO / "xenpair/examples/demo.yaml"))
    demo = "/var/tmp/xenpair-demo/"
    x = c.xen_create_image
    for path in (c.registry.hosting, c.registry.backup, x.storage.dir, x.cfg_dir, c.log_dir, c.roles_dir,
                 c.images.dir):
        assert f"{path}/".startswith(demo)
    assert c.backup.host == "local" and x.log_dir == "/var/log/xen-tools"
    assert "--nohosts" in x.extra_args and f"{c.images.dir}/".startswith(demo)
    assert not [a for a in x.extra_args if a.startswith("--install")]     # from the demo's golden image


def test_roles_section_problems_all_at_once(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "roles:\n"
        "  hosting: [base, backup-jail]\n"                     # 2: jail on hosting
        "  backup: [base, monitoring, firewall]\n"             # 3: unknown role
        "  smarthost: \"mail;reboot\"\n"                       # 4: ;
        "  git_name: \"it's me\"\n"                            # 5: quote
        "  root_alias: \"a@b.de\\nroot: evil\"\n"               # 6: newline
        "  backup_keys: ['ssh-ed25519 AAAA key`id`']\n"        # 7: backquote
        "  packages: {hosting: [mc, 'Bad Package']}\n"         # 8: not a package name
        "  monitoring_servers: [192.168.150.300]\n"            # 9: not an address
        "  icinga: {objects_dir: etc/icinga}\n"                # 10: relative
        "xen_create_image:\n"
        "  extra_args: ['--role=mine', '--roledir=/x']\n"      # 12: xenpair sets these
    )
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    text = str(e.value)
    for line in [
        f"{path}:3: roles.backup.2: Input should be 'base', 'monitoring' or 'backup-jail'",
        f"{path}:4: roles.smarthost: must not contain ';'",
        f"{path}:5: roles.git_name: must not contain \"'\"",
        f"{path}:6: roles.root_alias: must not contain '\\n'",
        f"{path}:7: roles.backup_keys.0: must not contain '`'",
        f"{path}:8: roles.packages.hosting.1: 'Bad Package' is not a Debian package name",
        f"{path}:9: roles.monitoring_servers.0:",
        f"{path}:10: roles.icinga.objects_dir: 'etc/icinga' is not an absolute path",
        f"{path}:12: xen_create_image.extra_args.0: '--role=mine' sets --role",
        f"{path}:12: xen_create_image.extra_args.1: '--roledir=/x' sets --roledir",
    ]:
        assert line in text, f"missing {line!r} in:\n{text}"


@pytest.mark.parametrize(("roles", "message"), [
    ({"hosting": ["backup-jail"]}, "backup-jail is for backup machines"),
    ({"backup": ["backup-jail"]}, "backup-jail needs roles.backup_keys"),
    ({"backup": ["base", "base"]}, "lists a role twice"),
    ({"backup_dir": "/"}, "backup_dir must not be /"),
    ({"backup_warn_hours": 50, "backup_crit_hours": 26}, "backup_warn_hours < backup_crit_hours"),
    ({"icinga": {"hostgroups_file": "../hostgroups.cfg"}}, "'../hostgroups.cfg' is not a file name"),
    ({"nrpe_checks": {"check_backup": "check_file_age /x"}}, "check_backup is the monitoring role's own"),
    ({"nrpe_checks": {"load": "check_load"}}, "'load' is not an nrpe command name"),
    ({"nrpe_checks": {"check_x": "/bin/rm -rf /"}}, "is not a plugin and its arguments"),
    ({"nrpe_checks": {"check_x": "check_dummy 0; reboot"}}, "must not contain ';'"),
])
def test_roles_consistency(tmp_path, roles, message):
    import yaml

    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"roles": roles}))
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert f"{path}:1: roles: {message}" in str(e.value) or message in str(e.value)


def test_roles_default_to_none_and_empty_lists_mean_none():
    c = Config()
    assert (c.roles.hosting, c.roles.backup, c.roles.icinga.objects_dir) == ([], [], None)
    assert c.roles.smarthost == "192.168.150.1" and c.roles.monitoring_servers[0].exploded == "192.168.150.2"
