"""Running xen-create-image 4.9 and reading what it printed.

Success needs all three (reference/xen-tools-4.9.md §6): exit code 0, the
"Installation Summary" block on stdout, and no Getopt complaint on stderr (xen-create-image
exits 0 on unknown, ambiguous or argument-less options).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

SUMMARY_HEADER = "Installation Summary"
OPTION_ERRORS = ("Unknown option", "requires an argument", "is ambiguous")
_LINE = re.compile(r"^(Hostname|Distribution|MAC Address|IP[- ]?Address\(es\)|RSA Fingerprint|"
                   r"SSH Fingerprint|Root Password)\s*:\s+(.*?)\s*$")
_FINGERPRINT = re.compile(r"^(\S+)\s+\((\S+)\)$")
_LOGFILE = re.compile(r"^Logfile produced at:\s*\n\s*(\S.*?)\s*$", re.M)
# what a --verbose run is doing, from the lines it prints when a step starts
_STEPS = [(re.compile(p), step) for p, step in (
    (r"^Creating (partition image|swap|\S+ filesystem)", "disks"),
    (r"^Installation method: (\S+)", "install ({0})"),
    (r"^Running hooks", "hooks"),
    (r"^Running hook (\S+)", "hook {0}"),
    (r"^Role: (\S+)", "role {0}"),
    (r"^Creating Xen configuration file", "config"),
    (r"^Setting up root password", "root password"),
    (r"^All done", "unmounting"),
    (r"^Installation Summary", "done"),
)]


def step_of(line: str) -> str | None:
    """The build step a line of `xen-create-image --verbose` output starts, if any."""
    for pattern, step in _STEPS:
        m = pattern.match(line)
        if m:
            return step.format(*m.groups())
    return None


@dataclass
class Summary:
    hostname: str = ""
    distribution: str = ""
    mac: str = ""
    ips: list[str] = field(default_factory=list)
    dhcp: bool = False
    ssh_fingerprints: list[dict[str, str]] = field(default_factory=list)
    root_password: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def parse_summary(stdout: str) -> Summary | None:
    """The last Installation Summary block on stdout (the log may hold an older run's)."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == SUMMARY_HEADER]
    if not starts:
        return None
    summary = Summary()
    for line in lines[starts[-1] + 2:]:
        if not line.strip():
            break
        m = _LINE.match(line)
        if not m:
            continue
        key, value = m.groups()
        if key == "Hostname":
            summary.hostname = value
        elif key == "Distribution":
            summary.distribution = value
        elif key == "MAC Address":
            summary.mac = value
        elif key.startswith("IP"):
            summary.dhcp = value == "dynamic"
            summary.ips = [] if summary.dhcp else value.split()
        elif key.endswith("Fingerprint"):
            fm = _FINGERPRINT.match(value)
            algo, fp = (fm.group(2), fm.group(1)) if fm else ("RSA", value)
            summary.ssh_fingerprints.append({"algorithm": algo, "fingerprint": fp})
        elif key == "Root Password":
            summary.root_password = "" if value == "N/A" else value
    return summary


def logfile(stdout: str) -> str | None:
    m = _LOGFILE.search(stdout)
    return m.group(1) if m else None


def problem(returncode: int, stdout: str, stderr: str) -> str | None:
    """Why this run failed, or None if it succeeded."""
    for marker in OPTION_ERRORS:
        for line in stderr.splitlines():
            if marker in line:
                return f"xen-create-image rejected its arguments: {line.strip()}"
    if returncode != 0:
        return f"xen-create-image exited with code {returncode}"
    if SUMMARY_HEADER not in stdout:
        return "xen-create-image exited 0 but printed no Installation Summary"
    return None
