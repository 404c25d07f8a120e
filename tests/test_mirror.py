"""Issue 10 item 13: the mirror is the one this machine's apt uses (overridable), and no mirror
host is named anywhere in the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "tests" / "tools" / "apt-mirror"


def machine_mirrors() -> set[str]:
    found = set()
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        if path.is_file():
            found |= set(re.findall(r"https?://([^/\s]+)", path.read_text(errors="replace")))
    return found


def test_apt_mirror_reads_this_machines_sources():
    url = subprocess.run([str(TOOL), "bookworm"], capture_output=True, text=True, check=True).stdout.strip()
    assert re.match(r"https?://[^/\s]+", url) and re.match(r"https?://([^/\s]+)", url)[1] in machine_mirrors()


def test_no_mirror_host_in_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    hosts = machine_mirrors()
    for name in tracked.splitlines():
        path = REPO / name
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for host in hosts:
            assert host not in text, f"{name} names the mirror host {host}"
