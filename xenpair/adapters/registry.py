"""The two CSV registries, byte-compatible with the old wrapper's files.

hosting: IP;Name;Package;external IP;Date created[;State]
backup:  IP;Name;Package;Date created[;State]

Rows the old wrapper wrote (no State) count as created. Rows xenpair did not change are
written back byte for byte. Every read-modify-write holds flock on <csv>.lock (hosting
first, then backup) and replaces each file atomically.
"""

from __future__ import annotations

import fcntl
import gc
import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from xenpair.adapters import atomic, machine_state
from xenpair.errors import Failed, RegistryError, decode_utf8
from xenpair.names import FQDN, fqdn_problem

STATES = ("reserved", "creating", "created", "failed", "destroyed")
DOM0_PACKAGE = "Xen-Host"
_HEADERS = {
    "hosting": ("IP;Name;Package;external IP;Date created", 5),
    "backup": ("IP;Name;Package;Date created", 4),
}
LOCK_TIMEOUT_S = 60.0
# parsing 1,000 rows is on the path of `xenpair list`: keep it cheap, but just as strict
_DOTTED = re.compile(r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\."
                     r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IP = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_STATE = "(reserved|creating|created|failed|destroyed)"
_OCTET_NC = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# rows are input too: names by the rule of typed names (xenpair.names), package names by the tier
# rule, dates as printable text of a sane length
_PACKAGE = r"(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,62})?"
_DATE = r"[^;\x00-\x1f\x7f]{0,64}"
_DOM0_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
# the common, well-formed row in one match; anything else goes through _parse_row, which
# accepts the same rows and says exactly what is wrong with the others
_IPC = rf"((?:{_OCTET_NC}\.){{3}}{_OCTET_NC})"
_FAST = {
    # the external IP only by its characters here (a full address pattern doubles the compile
    # time at every start); it is checked strictly below, and most rows have none
    "hosting": re.compile(rf"{_IPC};({FQDN});({_PACKAGE})(?:;([0-9.]{{0,15}})(?:;({_DATE})(?:;{_STATE})?)?)?"),
    "backup": re.compile(rf"{_IPC};({FQDN});({_PACKAGE})(?:;({_DATE})(?:;{_STATE})?)?"),
}


def _ipv4(text: str) -> IPv4Address | None:
    m = _DOTTED.fullmatch(text)
    if m is None:
        return None
    a, b, c, d = m.groups()
    return IPv4Address((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d))


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def short_name(fqdn: str) -> str:
    return fqdn.split(".", 1)[0]


class Row:
    """One registry line. The address is kept as an int (an IPv4Address is made only when asked
    for): parsing 60,000 rows is on the path of every create, under the registry lock."""

    __slots__ = ("kind", "ipn", "name", "package", "external_ip", "created", "state", "line", "raw")

    def __init__(self, kind: str, ip: IPv4Address | int, name: str, package: str, external_ip: str = "",
                 created: str = "", state: str = "created", line: int = 0, raw: str | None = None):
        self.kind = kind                  # "hosting" | "backup"
        self.ipn = int(ip)
        self.name = name                  # FQDN (or "Hosting" for the dom0 row)
        self.package = package
        self.external_ip = external_ip    # hosting only
        self.created = created
        self.state = state
        self.line = line                  # 0 = not yet in the file
        self.raw = raw                    # original text; None once changed

    @property
    def ip(self) -> IPv4Address:
        return IPv4Address(self.ipn)

    @property
    def address(self) -> str:
        """The address as written in the file (no IPv4Address formatting per row)."""
        return self.raw.split(";", 1)[0] if self.raw is not None else str(self.ip)

    @property
    def is_dom0(self) -> bool:
        return self.package == DOM0_PACKAGE

    def render(self) -> str:
        if self.raw is not None:
            return self.raw
        if self.kind == "hosting":
            return ";".join([str(self.ip), self.name, self.package, self.external_ip, self.created,
                             self.state])
        return ";".join([str(self.ip), self.name, self.package, self.created, self.state])

    def update(self, **changes) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        self.raw = None

    def __repr__(self) -> str:
        return f"Row({self.kind}, {self.ip}, {self.name!r}, {self.state!r}, line {self.line})"


@dataclass
class Pair:
    n: int
    hosting: Row | None
    backup: Row | None

    @property
    def name(self) -> str:
        return short_name((self.hosting or self.backup).name)

    @property
    def tier(self) -> str:
        return (self.hosting or self.backup).package

    @property
    def state(self) -> str:
        h, b = self.hosting, self.backup
        if h is None or b is None:
            return f"incomplete (no {'hosting' if h is None else 'backup'} row)"
        if h.state == "destroyed":
            return "hosting destroyed (backup kept)"
        if h.state == b.state == "created":
            return "created"
        failed = [k for k, r in (("hosting", h), ("backup", b)) if r.state == "failed"]
        if failed:
            return "failed (" + (" and ".join(failed)) + ")"
        return "creating" if "creating" in (h.state, b.state) else "reserved"


@dataclass
class CsvFile:
    kind: str
    path: Path
    prefix: IPv4Network
    header: str = ""
    rows: list[Row | str] = field(default_factory=list)   # str = a blank line, kept as is
    exists: bool = False
    changed: bool = False

    @property
    def base(self) -> int:
        return self.prefix.network_address._ip

    def data_rows(self) -> list[Row]:
        return [r for r in self.rows if isinstance(r, Row)]

    def render(self) -> str:
        header = self.header
        old_header, _ = _HEADERS[self.kind]
        if header == old_header:
            header += ";State"        # say what the added column is
        return "\n".join([header] + [r if isinstance(r, str) else r.render() for r in self.rows]) + "\n"


def _fresh(kind: str, path: Path, prefix: IPv4Network) -> CsvFile:
    header, _ = _HEADERS[kind]
    f = CsvFile(kind, path, prefix, header=header + ";State")
    if kind == "hosting":
        # the dom0 itself holds the first address; never handed out
        f.rows.append(Row("hosting", prefix.network_address + 1, "Hosting", DOM0_PACKAGE, state="",
                          raw=f"{prefix.network_address + 1};Hosting;{DOM0_PACKAGE}"))
    return f


def parse(kind: str, path: Path, prefix: IPv4Network, text: str) -> CsvFile:
    f = CsvFile(kind, path, prefix, exists=True)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    old_header, old_fields = _HEADERS[kind]
    if not lines or not lines[0].startswith("IP;Name;Package"):
        raise RegistryError(f"the {kind} registry has no header line",
                            where=f"{path}:1",
                            hint=f"the first line must be '{old_header}' (a file written by the old "
                                 "wrapper or by xenpair); fix or move the file")
    f.header = lines[0]
    seen_ip: dict[int, int] = {}
    seen_name: dict[str, int] = {}
    bounds = (int(prefix.network_address), int(prefix.broadcast_address))
    fast = _FAST[kind].fullmatch
    append = f.rows.append
    bases: dict[str, int] = {}           # "a.b.c" -> its address as an int: rows share few of them
    hosting = kind == "hosting"
    for number, text_line in enumerate(lines[1:], start=2):
        if text_line.strip() == "":
            append(text_line)
            continue
        m = fast(text_line)
        if m is not None:                # the regex checked the address's form
            g = m.groups()
            head, _, last = g[0].rpartition(".")
            base = bases.get(head)
            if base is None:
                a, b, c = head.split(".")
                base = bases[head] = (int(a) << 24) | (int(b) << 16) | (int(c) << 8)
            ip = base + int(last)
        if m is not None and bounds[0] <= ip <= bounds[1] and g[2] != DOM0_PACKAGE \
                and not (hosting and g[3] and _ipv4(g[3]) is None):
            if hosting:
                row = Row(kind, ip, g[1], g[2], g[3] or "", g[4] or "", g[5] or "created", number, text_line)
            else:
                row = Row(kind, ip, g[1], g[2], "", g[3] or "", g[4] or "created", number, text_line)
        else:
            row = _parse_row(kind, path, prefix, bounds, number, text_line, old_fields)
            ip = row.ipn
        if ip in seen_ip or row.name in seen_name:
            first = seen_ip.get(ip) or seen_name[row.name]
            shown = row.ip if ip in seen_ip else row.name
            raise RegistryError(f"{shown} appears twice in the {kind} registry (lines {first} and {number})",
                                where=f"{path}:{number}",
                                hint="remove the stale line by hand; xenpair does not guess which is right")
        seen_ip[ip] = seen_name[row.name] = number
        append(row)
    return f


class _Where:
    """file:line, formatted only when there is an error to report."""

    __slots__ = ("path", "line")

    def __init__(self, path: Path, line: int):
        self.path, self.line = path, line

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def _parse_row(kind: str, path: Path, prefix: IPv4Network, bounds: tuple[int, int], number: int,
               text: str, old_fields: int) -> Row:
    where = _Where(path, number)
    fields = text.rstrip("\r").split(";")
    max_fields = old_fields + 1
    if not 3 <= len(fields) <= max_fields:
        raise RegistryError(f"a {kind} registry row has {len(fields)} fields, expected 3 to {max_fields}",
                            where=where, hint="fix the line by hand (fields are separated by ';')")
    ip = _ipv4(fields[0])
    if ip is None:
        raise RegistryError(f"{fields[0]!r} is not an IPv4 address", where=where,
                            hint="fix the line by hand")
    if not bounds[0] <= ip._ip <= bounds[1]:
        raise RegistryError(f"{ip} is outside {kind}.prefix {prefix}", where=where,
                            hint=f"fix the line, or set {kind}.prefix in the config to the prefix this "
                                 "registry uses")
    name, package = fields[1], fields[2]
    if package == DOM0_PACKAGE:
        problem = None if _DOM0_NAME.match(name) else "not a plain word"
    else:
        problem = fqdn_problem(name)
    if problem:
        shown = repr(name[:80]) + ("..." if len(name) > 80 else "")
        raise RegistryError(f"the name {shown} is not a valid machine name: {problem}", where=where,
                            hint="fix the line by hand (a machine is NAME.DOMAIN, NAME one DNS label); "
                                 "xenpair runs nothing for a registry it cannot trust")
    if not re.fullmatch(_PACKAGE, package):
        raise RegistryError(f"the package {package[:80]!r} is not a package name (letters, digits, _ . -)",
                            where=where, hint="fix the line by hand")
    row = Row(kind, ip, name, package, line=number, raw=text)
    rest = fields[3:]
    if kind == "hosting" and rest:
        row.external_ip = rest.pop(0)
        if row.external_ip and _ipv4(row.external_ip) is None:
            raise RegistryError(f"external IP {row.external_ip!r} is not an IPv4 address",
                                where=where, hint="fix the line by hand")
    if rest:
        row.created = rest.pop(0)
        if not re.fullmatch(_DATE, row.created):
            raise RegistryError(f"the date {row.created[:80]!r} has control characters or is over 64 "
                                "characters long", where=where, hint="fix the line by hand")
    if rest:
        row.state = rest.pop(0)
        if row.state not in STATES:
            raise RegistryError(f"unknown state {row.state!r}", where=where,
                                hint=f"the State column holds one of: {', '.join(STATES)}")
    if row.is_dom0:
        row.state = ""
    return row


class Snapshot:
    """Both registries as read at one moment (under the lock, when taken from Registry.locked)."""

    def __init__(self, hosting: CsvFile, backup: CsvFile):
        self.files = {"hosting": hosting, "backup": backup}
        # machine state (host keys, start and ready times) to write with the CSVs: kind -> fqdn -> fields
        self.machine_changes: dict[str, dict[str, dict | None]] = {"hosting": {}, "backup": {}}

    def rows(self, kind: str) -> list[Row]:
        return self.files[kind].data_rows()

    def number(self, row: Row) -> int:
        return row.ipn - self.files[row.kind].base

    def pairs(self) -> list[Pair]:
        by_n: dict[int, Pair] = {}
        for kind in ("hosting", "backup"):
            base = self.files[kind].base
            for row in self.rows(kind):
                if row.is_dom0:
                    continue
                n = row.ipn - base
                pair = by_n.get(n)
                if pair is None:
                    pair = by_n[n] = Pair(n, None, None)
                setattr(pair, kind, row)
        return [by_n[n] for n in sorted(by_n)]

    def find(self, name: str) -> Pair | None:
        """Exact match on the short name: 'foo' never matches 'foobar'. (The pair with the lowest N,
        as in pairs(); found without building every pair: it is on the path of every command.)"""
        if "." in name:                  # a short name is one label
            return None
        dotted = name + "."
        hits: dict[str, dict[int, Row]] = {"hosting": {}, "backup": {}}
        for kind, found in hits.items():
            base = self.files[kind].base
            for row in self.rows(kind):
                if (row.name == name or row.name.startswith(dotted)) and not row.is_dom0:
                    found[row.ipn - base] = row
        numbers = hits["hosting"].keys() | hits["backup"].keys()
        if not numbers:
            return None
        n = min(numbers)
        return Pair(n, *(hits[kind].get(n) or self.row_at(kind, n) for kind in ("hosting", "backup")))

    def row_at(self, kind: str, n: int) -> Row | None:
        """The pair row at address number N in that file (not a dom0 row), or None."""
        ipn = self.files[kind].base + n
        return next((r for r in self.rows(kind) if r.ipn == ipn and not r.is_dom0), None)

    def external_ips(self) -> dict[IPv4Address, str]:
        return {IPv4Address(r.external_ip): r.name for r in self.rows("hosting") if r.external_ip}

    def add(self, row: Row) -> None:
        f = self.files[row.kind]
        f.rows.append(row)
        f.changed = True

    def remove(self, row: Row) -> None:
        f = self.files[row.kind]
        f.rows.remove(row)
        f.changed = True

    def mark(self, row: Row, **changes) -> None:
        row.update(**changes)
        self.files[row.kind].changed = True

    def note_machine(self, row: Row, **fields) -> None:
        """Set fields of the machine's entry in the state file beside the registry (machine_state)."""
        pending = self.machine_changes[row.kind]
        pending[row.name] = {**(pending.get(row.name) or {}), **fields}

    def forget_machine(self, row: Row) -> None:
        self.machine_changes[row.kind][row.name] = None


class Registry:
    def __init__(self, hosting: Path, backup: Path, hosting_prefix: IPv4Network,
                 backup_prefix: IPv4Network):
        self.paths = {"hosting": Path(hosting), "backup": Path(backup)}
        self.prefixes = {"hosting": hosting_prefix, "backup": backup_prefix}

    def _read(self, kind: str) -> CsvFile:
        path, prefix = self.paths[kind], self.prefixes[kind]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return _fresh(kind, path, prefix)
        except OSError as e:
            raise RegistryError(f"cannot read the {kind} registry: {e.strerror}", where=str(path),
                                hint="check the path under registry: in the config") from None
        text = decode_utf8(data, path, RegistryError, f"the {kind} registry", hint="fix the line by hand")
        # 60,000 rows are 60,000 objects that all live on: the cyclic GC would scan them again and
        # again while they are made (a quarter of the time, measured) and can find nothing to free
        enabled = gc.isenabled()
        gc.disable()
        try:
            return parse(kind, path, prefix, text)
        finally:
            if enabled:
                gc.enable()

    def read(self) -> Snapshot:
        """A consistent read without the lock: each file is only ever replaced atomically."""
        return Snapshot(self._read("hosting"), self._read("backup"))

    @contextmanager
    def locked(self) -> Iterator[Snapshot]:
        """Read under both locks; on a clean exit write back every changed file."""
        with ExitStack() as stack:
            for kind in ("hosting", "backup"):
                stack.enter_context(_flock(self.paths[kind]))
            snap = self.read()
            yield snap
            # backup first: a crash in between leaves a hosting row missing, which `list`
            # shows as incomplete, never a backup machine nobody knows about
            for kind in ("backup", "hosting"):
                f = snap.files[kind]
                if f.changed:
                    atomic.write(f.path, f.render())
                    f.changed, f.exists = False, True
            for kind, changes in snap.machine_changes.items():
                if changes:
                    machine_state.update(self.paths[kind], changes)
                    changes.clear()

    def machines(self, kind: str) -> dict[str, dict]:
        """The machine state file of that registry (host keys, start and ready times), by FQDN."""
        return machine_state.read(self.paths[kind])


@contextmanager
def _flock(csv: Path) -> Iterator[None]:
    """Hold flock on <csv>.lock. A waiter gives up only when ONE holder keeps the lock for
    LOCK_TIMEOUT_S: each holder writes a token of its own into the lock file, and a new token
    means the queue moved, so the wait starts again (50 runs queued behind each other all get
    their turn; a hung holder is still reported)."""
    lock_path = csv.with_name(csv.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        raise RegistryError(f"cannot open the registry lock file: {e.strerror}", where=str(lock_path),
                            hint="check that the registry's folder exists and is writable") from None
    try:
        holder, deadline = b"", time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now_holder = os.pread(fd, 64, 0)
                if now_holder != holder:
                    holder, deadline = now_holder, time.monotonic() + LOCK_TIMEOUT_S
                elif time.monotonic() > deadline:
                    who = holder.decode(errors="replace").split()[:1] or ["?"]
                    raise Failed(f"the registry stayed locked by one holder (pid {who[0]}) for "
                                 f"{LOCK_TIMEOUT_S:.0f} s", where=str(lock_path),
                                 hint="that xenpair seems stuck: check it with 'ps -p PID' or "
                                      f"'fuser {lock_path}', then try again") from None
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {os.urandom(4).hex()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
