"""Icinga 1.x object files on a dom0: a host object per machine, and its name in a hostgroup.

Pure text functions; reading and writing happen through adapters.files (local or SSH).
"""

from __future__ import annotations

import re

_MEMBERS = re.compile(r"^(?P<lead>\s*members)(?:(?P<gap>[ \t]+)(?P<value>[^#;\n]*?))?(?P<tail>\s*(?:[#;].*)?)$")


def host_object(fqdn: str, address: str, template: str) -> str:
    return (f"# written by xenpair for {fqdn}\n"
            "define host{\n"
            f"    use        {template}\n"
            f"    host_name  {fqdn}\n"
            f"    alias      {fqdn}\n"
            f"    address    {address}\n"
            "}\n")


def add_member(text: str, hostgroup: str, name: str) -> str | None:
    """Add name to the first `members` line at or after the first line naming hostgroup.

    Returns the new text, the same text if name is already a member, or None if there is no
    such hostgroup or no members line after it. Everything else stays byte for byte.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if hostgroup in line), None)
    if start is None:
        return None
    for i in range(start, len(lines)):
        body = lines[i].rstrip("\r\n")
        m = _MEMBERS.match(body)
        if not m:
            continue
        old = m["value"] or ""
        members = [x.strip() for x in old.split(",") if x.strip()]
        if name in members:
            return text
        value = old + ("," if members else "") + name
        gap = m["gap"] or " "
        lines[i] = f"{m['lead']}{gap}{value}{m['tail']}" + lines[i][len(body):]
        return "".join(lines)
    return None


def remove_member(text: str, name: str) -> str:
    """name taken out of every `members` line (Icinga refuses a config whose hostgroup names a host
    that has no object any more). Lines without it stay byte for byte."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        m = _MEMBERS.match(body)
        if not m or not m["value"]:
            continue
        members = [x.strip() for x in m["value"].split(",")]
        if name not in members:
            continue
        kept = ",".join(x for x in members if x and x != name)
        lines[i] = f"{m['lead']}{m['gap'] if kept else ''}{kept}{m['tail']}" + line[len(body):]
    return "".join(lines)
