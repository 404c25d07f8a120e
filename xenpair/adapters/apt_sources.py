"""Which Debian mirror this dom0's apt uses: the default of images.mirror and images.security_mirror.

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/ (one-line .list files and deb822
.sources), so golden images come from the mirror the site chose for its dom0s.
"""

from __future__ import annotations

import glob
import re

_ONE_LINE = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$")


def mirror_for(suite: str, root: str = "/") -> str | None:
    """The first enabled `deb` source of SUITE with component main, without its trailing slash."""
    base = root.rstrip("/") + "/etc/apt/"
    files = [base + "sources.list", *sorted(glob.glob(base + "sources.list.d/*.list")),
             *sorted(glob.glob(base + "sources.list.d/*.sources"))]
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            continue
        found = _deb822(text, suite) if path.endswith(".sources") else _one_line(text, suite)
        if found:
            return found.rstrip("/")
    return None


def _deb822(text: str, suite: str) -> str | None:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if ("deb" in fields.get("types", []) and suite in fields.get("suites", [])
                and "main" in fields.get("components", []) and fields.get("uris")
                and fields.get("enabled", ["yes"])[0].lower() != "no"):
            return fields["uris"][0]
    return None


def _one_line(text: str, suite: str) -> str | None:
    for line in text.splitlines():
        m = _ONE_LINE.match(line.split("#", 1)[0].strip())
        if m and m[2] == suite and "main" in m[3].split():
            return m[1]
    return None
