"""The parsed-YAML cache: used when the file is the very same, missed on any write, never needed."""

import os
import stat
import subprocess
import sys
import textwrap
from datetime import date

import pytest

from xenpair.adapters import yamlcache
from xenpair.config import load_config
from xenpair.errors import ConfigError

CONFIG = "hosting: {domain: aaa.example.de}\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(yamlcache, "RACY_NS", 0)     # the racy rule has its own test below
    return tmp_path / "cache" / "xenpair"


def fresh_load(path) -> tuple[bool, str]:
    """Load the config in a fresh interpreter: was PyYAML imported, and what came out.

    A fresh interpreter because this one has imported PyYAML long ago; it keeps the racy rule
    (RACY_NS), so only this process, where the rule is off, writes entries."""
    code = textwrap.dedent(f"""
        import sys
        from xenpair.config import load_config
        c, _ = load_config({str(path)!r})
        print("yaml" in sys.modules, c.hosting.domain)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    used, domain = out.stdout.split()
    return used == "True", domain


def test_second_load_skips_yaml_and_any_write_misses(cache, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    assert fresh_load(path) == (True, "aaa.example.de")        # just written: not cached
    assert not cache.exists()
    load_config(str(path))
    (entry,) = cache.iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600 and stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert fresh_load(path) == (False, "aaa.example.de")

    # same size, same inode, mtime put back: the ctime still tells
    st = path.stat()
    with open(path, "r+") as f:
        f.write(CONFIG.replace("aaa", "bbb"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_ino == st.st_ino
    assert yamlcache.get(path, path.stat()) is None
    assert fresh_load(path) == (True, "bbb.example.de")
    assert load_config(str(path))[0].hosting.domain == "bbb.example.de"
    assert fresh_load(path) == (False, "bbb.example.de")


def test_broken_or_unwritable_cache_is_not_used(cache, tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    load_config(str(path))
    (entry,) = cache.iterdir()
    entry.write_bytes(b"\x00garbage")
    assert load_config(str(path))[0].hosting.domain == "aaa.example.de"
    assert yamlcache.get(path, path.stat())["hosting"] == {"domain": "aaa.example.de"}   # rewritten

    (tmp_path / "not-a-dir").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-dir"))
    assert load_config(str(path))[0].hosting.domain == "aaa.example.de"


def test_what_marshal_cannot_hold_is_left_to_yaml(cache, tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 2026-11-27\n")
    yamlcache.put(path, path.stat(), {"a": date(2026, 11, 27)})
    assert not cache.exists()


def test_an_invalid_cached_config_still_names_file_and_line(cache, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("hosting:\n  domain: aaa.example.de\n  colour: blue\n")
    for _ in range(2):                          # the second time from the cache
        with pytest.raises(ConfigError) as e:
            load_config(str(path))
        assert f"{path}:3: hosting.colour: unknown key" in e.value.details
    assert len(list(cache.iterdir())) == 1


NOBODY = 65534


def forged(cache, path) -> None:
    """Put a real entry in place, then make it say xen_create_image.command is an attacker's script."""
    load_config(str(path))
    (entry,) = cache.iterdir()
    import marshal

    record = marshal.loads(entry.read_bytes())
    record["data"] = {**record["data"], "xen_create_image": {"command": "/tmp/evil"}}
    entry.write_bytes(marshal.dumps(record))
    assert load_config(str(path))[0].xen_create_image.command == "/tmp/evil"    # trusted while root's own


@pytest.mark.parametrize("how", ["entry owned by nobody", "entry group-writable", "entry is a symlink",
                                 "folder owned by nobody", "folder world-writable", "folder is a symlink"])
def test_a_cache_someone_else_could_write_is_ignored_and_reported(cache, tmp_path, how):
    """Issue 10 item 3: an entry owned by `nobody` replaced xen_create_image.command, run as root."""
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    forged(cache, path)
    (entry,) = cache.iterdir()
    if how == "entry owned by nobody":
        os.chown(entry, NOBODY, NOBODY)
    elif how == "entry group-writable":
        entry.chmod(0o620)
    elif how == "entry is a symlink":
        real = tmp_path / "elsewhere.marshal"
        entry.rename(real)
        entry.symlink_to(real)
    elif how == "folder owned by nobody":
        os.chown(cache, NOBODY, NOBODY)
    elif how == "folder world-writable":
        cache.chmod(0o777)
    else:
        cache.rename(tmp_path / "other")
        cache.symlink_to(tmp_path / "other")
    assert yamlcache.problem() is not None
    r = subprocess.run([sys.executable, "-m", "xenpair", "--config", str(path), "check", "--json"],
                       capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(cache.parent)})
    import json

    got = {c["check"]: c for c in json.loads(r.stdout)}["config cache"]
    assert got["warning"] and got["detail"].startswith("ignored: ")
    assert load_config(str(path))[0].xen_create_image.command == "xen-create-image"
