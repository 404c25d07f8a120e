"""Issue 10 item 14: bad input that was not refused. Each is an exit-2 error with file:line, and
nothing is reserved, built or written."""

from __future__ import annotations

import pytest

from tests.test_registry_input import HEADER


def nothing_reserved(site) -> bool:
    return not site.hosting_csv.exists() or "new." not in site.hosting_csv.read_text()


@pytest.mark.parametrize("which", ["config", "packages"])
def test_a_non_utf8_byte(tiny_site, which):
    path = tiny_site.config_path if which == "config" else tiny_site.root / "packages.yaml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n# caf\xe9\n", 2))
    r = tiny_site.run("create", "small", "new", "--yes")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{path}:2" in r.stderr and "is not UTF-8 text (byte 0xe9)" in r.stderr
    assert nothing_reserved(tiny_site)


def test_duplicate_keys_name_both_lines(tiny_site):
    tiny_site.config_path.write_text(tiny_site.config_path.read_text() + "toolstack: xl\ntoolstack: /bin/false\n")
    lines = tiny_site.config_path.read_text().count("\n")
    r = tiny_site.run("list")
    assert r.returncode == 2
    assert f"duplicate key 'toolstack' (lines {lines - 1} and {lines})" in r.stderr
    assert f"{tiny_site.config_path}:{lines}" in r.stderr


@pytest.mark.parametrize("log_dir", ["file", "file/below"])
def test_log_dir_that_is_a_file_is_refused_before_reserving(tiny_site, log_dir):
    (tiny_site.root / "file").write_text("")
    tiny_site.config["log_dir"] = str(tiny_site.root / log_dir)
    tiny_site.write_config()
    for args in (("create", "small", "new", "--yes"), ("create", "small", "new", "--dry-run")):
        r = tiny_site.run(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"log_dir {tiny_site.root / log_dir}: {tiny_site.root / 'file'} is not a folder" in r.stderr
    assert nothing_reserved(tiny_site)


def test_repair_refuses_it_too(tiny_site):
    tiny_site.hosting_csv.write_text(HEADER + "192.168.20.2;new.hosting.example.de;small;;d;failed\n")
    tiny_site.backup_csv.write_text("IP;Name;Package;Date created;State\n"
                                    "192.168.30.2;new.backup.example.de;small;d;created\n")
    (tiny_site.root / "file").write_text("")
    tiny_site.config["log_dir"] = str(tiny_site.root / "file")
    tiny_site.write_config()
    r = tiny_site.run("repair", "new")
    assert r.returncode == 2 and "is not a folder" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("change,why", [
    (lambda c: c["registry"].update(backup=c["registry"]["hosting"]), "are the same file"),
    (lambda c: c["backup"].update(domain=c["hosting"]["domain"]), "the same hostname"),
])
def test_both_sides_the_same(tiny_site, change, why):
    change(tiny_site.config)
    tiny_site.write_config()
    r = tiny_site.run("create", "small", "new", "--yes")
    assert r.returncode == 2 and why in r.stderr


@pytest.mark.parametrize("value,why", [("true", "valid integer"), ("10000000000000000000000000000000", "less than"),
                                       ("'512'", "valid integer"), ("1.5", "valid integer"), ("8", "greater than")])
def test_sizes_are_strict_whole_numbers_within_bounds(tiny_site, value, why):
    path = tiny_site.root / "packages.yaml"
    path.write_text(f"t:\n  hosting: {{ram_mb: {value}, vcpus: 1, disk_gb: 1}}\n  backup: {{ram_mb: 64, vcpus: 1, "
                    "disk_gb: 10000000000}\n")
    r = tiny_site.run("create", "t", "new", "--dry-run")
    assert r.returncode == 2 and f"{path}:2: t.hosting.ram_mb: " in r.stderr and why in r.stderr
    assert f"{path}:3: t.backup.disk_gb: " in r.stderr


def test_a_registry_symlink_is_written_through(tiny_site):
    real = tiny_site.root / "elsewhere.csv"
    real.write_text(HEADER)
    tiny_site.hosting_csv.symlink_to(real)
    assert tiny_site.run("create", "small", "new", "--yes", "--no-start").returncode == 0
    assert tiny_site.hosting_csv.is_symlink() and "new.hosting.example.de" in real.read_text()
