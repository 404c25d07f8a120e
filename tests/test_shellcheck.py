"""Every shell script xenpair ships (the roles and what they use, the Ganeti OS definition) passes shellcheck."""

import subprocess
from importlib import resources

from xenpair.core.roles import SHIPPED


def test_shellcheck_passes_on_every_shipped_script():
    base = resources.files("xenpair") / "roles"
    scripts = [str(base / name) for name in SHIPPED]
    assert len(scripts) == len(list(base.iterdir())), "a file in xenpair/roles is not in SHIPPED"
    r = subprocess.run(["shellcheck", "--external-sources", "--shell=sh", *scripts], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shellcheck_passes_on_the_ganeti_os_definition():
    base = resources.files("xenpair") / "ganeti_os"
    scripts = [str(f) for f in base.iterdir() if f.read_bytes().startswith(b"#!") or f.name.endswith(".sh")]
    assert len(scripts) == 6, scripts                 # create verify export import rename common.sh
    r = subprocess.run(["shellcheck", "--external-sources", "--shell=sh", *scripts], capture_output=True, text=True,
                       cwd=str(base))
    assert r.returncode == 0, r.stdout + r.stderr
