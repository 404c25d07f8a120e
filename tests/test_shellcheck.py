"""Every shell script xenpair ships (the roles and what they use) passes shellcheck."""

import subprocess
from importlib import resources

from xenpair.core.roles import SHIPPED


def test_shellcheck_passes_on_every_shipped_script():
    base = resources.files("xenpair") / "roles"
    scripts = [str(base / name) for name in SHIPPED]
    assert len(scripts) == len(list(base.iterdir())), "a file in xenpair/roles is not in SHIPPED"
    r = subprocess.run(["shellcheck", "--external-sources", "--shell=sh", *scripts], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
