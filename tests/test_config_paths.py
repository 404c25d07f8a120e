"""Issue 10 item 7: paths in the config are normalised, and '..', '//', whitespace and shell
metacharacters are refused with the key's file:line."""

import pytest

from xenpair.config import Config, load_config
from xenpair.errors import ConfigError


@pytest.mark.parametrize("key,value,why", [
    ("roles: {backup_dir: /../../../etc}", "/../../../etc", "'..' component"),
    ("roles: {backup_dir: //}", "//", "empty component"),
    ("roles: {backup_dir: /backup/./x}", "/backup/./x", "'.' component"),
    ("xen_create_image: {storage: {dir: '/srv/x y'}}", "/srv/x y", "contains ' '"),
    ("xen_create_image: {storage: {dir: '/srv/$(reboot)'}}", "/srv/$(reboot)", "contains '$', '(', ')'"),
    ("xen_create_image: {cfg_dir: '/etc/xen;rm -rf /'}", "/etc/xen;rm -rf /", "contains ' ', ';'"),
    ("xen_create_image: {cfg_dir: etc/xen}", "etc/xen", "is not an absolute path"),
    ("xen_create_image: {log_dir: '/var/log/`id`'}", "/var/log/`id`", "contains '`'"),
    ("hosting: {xen_create_image: {cfg_dir: /etc/../xen}}", "/etc/../xen", "'..' component"),
    ("log_dir: ''", "", "is not an absolute path"),
    ("roles_dir: '/var/lib/xenpair/roles dir'", "", "contains ' '"),
    ("xen_create_image: {command: 'xen-create-image --debug'}", "", "neither a command name"),
    ("toolstack: '../xl'", "", "neither a command name"),
])
def test_bad_paths_are_refused_with_file_line(tmp_path, key, value, why):
    path = tmp_path / "c.yaml"
    path.write_text("# site\n" + key + "\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert f"{path}:2: " in e.value.details and why in e.value.details


def test_paths_are_normalised():
    c = Config.model_validate({"roles": {"backup_dir": "/backup/"}, "xen_create_image": {
        "cfg_dir": "/etc/xen/", "storage": {"dir": "/srv/xen/"}, "command": "/usr/sbin/xen-create-image"}})
    assert c.roles.backup_dir == "/backup" and c.xen_create_image.cfg_dir == "/etc/xen"
    assert c.xen_create_image.storage.dir == "/srv/xen"
