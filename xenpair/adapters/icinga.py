"""Icinga 1.x object files on a dom0: a host object per machine, and its name in a hostgroup.

Pure text functions; reading and writing happen through adapters.files (local or SSH).
The hostgroups file is read as Icinga reads it: `define hostgroup { ... }` blocks of one
directive per line, `#` comments on their own line and `;` comments after a value. Only the
block whose `hostgroup_name` equals the configured name is edited; every other line stays byte
for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DEFINE = re.compile(r"^\s*define\s+hostgroup\s*\{")
_DIRECTIVE = re.compile(r"^(?P<lead>\s*(?P<key>[A-Za-z_]+))(?:(?P<gap>[ \t]+)(?P<value>[^;\n]*?))?"
                        r"(?P<tail>\s*(?:;.*)?)$")


@dataclass
class _Block:
    start: int                  # index of the `define hostgroup {` line
    end: int                    # index of the line holding the closing `}`
    name: str | None            # its hostgroup_name
    members: int | None         # index of its members line


def host_object(fqdn: str, address: str, template: str) -> str:
    return (f"# written by xenpair for {fqdn}\n"
            "define host{\n"
            f"    use        {template}\n"
            f"    host_name  {fqdn}\n"
            f"    alias      {fqdn}\n"
            f"    address    {address}\n"
            "}\n")


def _code(line: str) -> str:
    """The line without its comment."""
    return "" if line.lstrip().startswith("#") else line.split(";", 1)[0]


def _blocks(lines: list[str]) -> list[_Block]:
    out, i = [], 0
    while i < len(lines):
        if not _DEFINE.match(_code(lines[i])):
            i += 1
            continue
        block = _Block(i, len(lines) - 1, None, None)
        first = _code(lines[i]).split("{", 1)[1]
        j = i if "}" in first else i + 1
        while j < len(lines):
            body = _code(lines[j]).rstrip("\r\n")
            if j == i:
                body = first
            m = _DIRECTIVE.match(body.split("}", 1)[0]) if j != i else None
            if m and m["key"] == "hostgroup_name":
                block.name = (m["value"] or "").strip()
            elif m and m["key"] == "members" and block.members is None:
                block.members = j
            if "}" in body:
                block.end = j
                break
            j += 1
        out.append(block)
        i = block.end + 1
    return out


def _members(line: str) -> tuple[re.Match, list[str]]:
    body = line.rstrip("\r\n")
    m = _DIRECTIVE.match(body)
    return m, [x.strip() for x in (m["value"] or "").split(",") if x.strip()]


def add_member(text: str, hostgroup: str, name: str) -> str | None:
    """Add name to the members of the hostgroup whose hostgroup_name is HOSTGROUP.

    Returns the new text, the same text if name is already a member, or None if there is no
    such hostgroup. A hostgroup without a members line gets one. Everything else stays byte
    for byte.
    """
    lines = text.splitlines(keepends=True)
    block = next((b for b in _blocks(lines) if b.name == hostgroup), None)
    if block is None:
        return None
    if block.members is None:
        lead = next((ln[: len(ln) - len(ln.lstrip())] for ln in lines[block.start + 1: block.end + 1]
                     if ln.strip() and not ln.strip().startswith("}")), "    ")
        newline = "\r\n" if lines[block.start].endswith("\r\n") else "\n"
        if block.end == block.start:          # a one-line block: no room for a new line
            return None
        lines.insert(block.end, f"{lead}members         {name}{newline}")
        return "".join(lines)
    line = lines[block.members]
    m, members = _members(line)
    if name in members:
        return text
    old = m["value"] or ""
    body = line.rstrip("\r\n")
    lines[block.members] = f"{m['lead']}{m['gap'] or ' '}{old}{',' if members else ''}{name}{m['tail']}" \
        + line[len(body):]
    return "".join(lines)


def remove_member(text: str, name: str) -> str:
    """name taken out of every hostgroup's members (Icinga refuses a config whose hostgroup names a
    host that has no object any more). Lines without it stay byte for byte."""
    lines = text.splitlines(keepends=True)
    for block in _blocks(lines):
        if block.members is None:
            continue
        line = lines[block.members]
        m, members = _members(line)
        if name not in members:
            continue
        kept = ",".join(x for x in members if x != name)
        body = line.rstrip("\r\n")
        lines[block.members] = f"{m['lead']}{m['gap'] if kept else ''}{kept}{m['tail']}" + line[len(body):]
    return "".join(lines)
