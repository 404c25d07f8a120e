"""Issue 10 items 6 and 14: registry rows are input. A name read from the registry is held to the
rule of a typed name; a bad row is an error naming file:line, and nothing is run."""

from __future__ import annotations

import pytest

from tests.conftest import old_wrapper_registry

HEADER = "IP;Name;Package;external IP;Date created;State\n192.168.20.1;Hosting;Xen-Host\n"
BACKUP = "IP;Name;Package;Date created;State\n"


@pytest.mark.parametrize("name,why", [
    ("evil.x/../../../../tmp/victim", "the domain contains '/'"),
    ("nul\0byte.hosting.example.de", "contains '\\x00'"),
    ("x" * 1_000_000 + ".hosting.example.de", "characters long"),
    ("Upper.hosting.example.de", "uppercase"),
    ("nodomain", "has no domain"),
    ("$(reboot).hosting.example.de", "contains '$', '(', ')'"),
])
@pytest.mark.parametrize("command", [["destroy", "victim", "--dry-run"], ["list"], ["show", "victim"],
                                     ["create", "small", "new", "--dry-run"], ["repair", "victim", "--dry-run"]])
def test_a_bad_name_in_the_registry_stops_everything(tiny_site, name, why, command):
    tiny_site.hosting_csv.write_text(HEADER + f"192.168.20.2;{name};small;;d;created\n")
    tiny_site.backup_csv.write_text(BACKUP + "192.168.30.2;victim.backup.example.de;small;d;created\n")
    r = tiny_site.run(*command)
    assert r.returncode == 2, r.stderr
    assert f"{tiny_site.hosting_csv}:3" in r.stderr and why in r.stderr and "not a valid machine name" in r.stderr
    assert len(r.stderr) < 2000                      # a 1 MB name is not printed
    assert "xen-delete-image" not in r.stdout and "Traceback" not in r.stderr


@pytest.mark.parametrize("row,why", [
    ("192.168.20.2;a.hosting.example.de;pkg;x;;d;created", "fields"),
    ("192.168.20.2;a.hosting.example.de;bad package;;d;created", "is not a package name"),
    ("192.168.20.2;a.hosting.example.de;small;;d\x07ate;created", "control characters"),
])
def test_other_bad_fields(tiny_site, row, why):
    tiny_site.hosting_csv.write_text(HEADER + row + "\n")
    r = tiny_site.run("list")
    assert r.returncode == 2 and f"{tiny_site.hosting_csv}:3" in r.stderr and why in r.stderr


def test_the_old_wrappers_files_still_read(tiny_site):
    old_wrapper_registry(tiny_site)
    r = tiny_site.run("list")
    assert r.returncode == 0 and "foobar" in r.stdout
