"""Running xen-create-image 4.9 and reading what it printed.

Success needs all three (reference/xen-tools-4.9.md §6): exit code 0, the
"Installation Summary" block on stdout, and no Getopt complaint on stderr (xen-create-image
exits 0 on unknown, ambiguous or argument-less options).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

# xen-create-image 4.9.2's GetOptions table, in its order (`/usr/bin/xen-create-image`, sub
# parseCommandLineArguments): `name` a flag, `name!` negatable (also noNAME and no-NAME),
# `=s`/`=i` a required string/integer, `:s` an optional string, `@` repeatable.
_GETOPT_SPEC = """
dist=s size=s swap=s noswap image=s memory=s maxmem=s vcpus=i dir=s evms=s kernel=s initrd=s mirror=s
keyring=s apt_proxy=s modules=s lvm=s zpool=s image-dev=s swap-dev=s serial_device=s disk_device=s
nohosts copyhosts! no-hosts copy-hosts! dhcp! bridge=s gateway=s hostname=s ip=s@ mac=s randommac
netmask=s broadcast=s nameserver=s vifname=s p2p=s vlan=s install-method=s install-source=s
debootstrap-cmd=s accounts! admins=s arch=s fs=s boot! cache=s cachedir=s config=s ide scsi install=i
hooks=i pygrub! passwd! genpass=i genpass-len=i genpass_len=i password=s hash_method=s partitions=s
role=s role-args=s finalrole=s roledir=s force! no-xen-ok keep! template=s output=s extension:s
dontformat lvm_thin=s debug! help manual dumpconfig verbose! version
"""


def _getopt_table() -> dict[str, tuple[str, str]]:
    """Every name Getopt::Long accepts -> (the option it sets, 'no'+option for a negation; its argument
    kind: '' none, '=s', '=i' or ':s')."""
    table = {}
    for spec in _GETOPT_SPEC.split():
        m = re.fullmatch(r"([a-z0-9_-]+)(!|[=:][si]@?)?", spec)
        name, kind = m[1], (m[2] or "").rstrip("@")
        if kind == "!":
            table[name] = (name, "")
            table["no" + name] = table["no-" + name] = ("no" + name, "")
        else:
            table[name] = (name, kind)
    return table


def resolve_option(typed: str) -> tuple[str, str]:
    """What xen-create-image makes of `--TYPED`, as Getopt::Long does by default (ignore_case and
    auto_abbrev: any unique prefix is the option). Returns (option, argument kind); raises
    ValueError for an unknown or ambiguous name, with Getopt's own words."""
    table = _getopt_table()
    name = typed.lower()
    if name in table:
        return table[name]
    hits = sorted(n for n in table if name and n.startswith(name))
    if not hits:
        raise ValueError(f"--{typed} is not an option of xen-create-image 4.9 (Unknown option: {typed})")
    if len({table[h][0] for h in hits}) > 1:
        raise ValueError(f"--{typed} is ambiguous for xen-create-image ({', '.join('--' + h for h in hits)})")
    return table[hits[0]]


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


# xen-create-image 4.9 writes /var/log/xen-tools/<fqdn>.log and chmods it 0640 itself (umask
# cannot help), with the root password in it; rotated runs keep their 0640 as <fqdn>.N.log
_PRIVATE_DIR = 'mkdir -p -m 0700 -- "$1" && chmod 0700 -- "$1"'
_PRIVATE_LOGS = 'for f in "$1/$2.log" "$1/$2".[0-9]*.log; do if [ -f "$f" ]; then chmod 0600 -- "$f"; fi; done'


def keep_logs_private(host, log_dir: str, fqdn: str | None = None) -> None:
    """The log folder 0700 (before a build: no reader gets in while it runs) and, given FQDN, that
    guest's logs 0600 (after it). Raises Failed where the host refuses."""
    from xenpair.errors import Failed

    argv = ["sh", "-c", _PRIVATE_DIR, "sh", log_dir] if fqdn is None else \
        ["sh", "-c", _PRIVATE_LOGS, "sh", log_dir, fqdn]
    r = host.run(argv)
    if r.returncode != 0:
        raise Failed(f"cannot make xen-tools' logs in {log_dir} private on host {host.name}: "
                     f"{r.stderr.strip() or f'exit {r.returncode}'}", hint="they hold root passwords: check that "
                     "xenpair runs as root there")


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
