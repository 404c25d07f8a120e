"""The rules for machine names: what people type, and what is read back from the registry.

Names end up in argv (`--hostname=`), in paths that are deleted (`xen-delete-image`, `rm -f` of
the cfg) and in files others read, so a name from the registry is held to the same rule as one
typed on the command line. Shared by core (validation) and adapters (the registry).
"""

from __future__ import annotations

import re

NAME_RULE = ("a name is one DNS label: lowercase letters a-z, digits 0-9 and inner hyphens, "
             "1-63 characters, e.g. customer42 (the domain is added from the config)")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
# a whole FQDN as the registry holds it: labels by the same rule, at most 253 characters
_LABEL_RE = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
FQDN = rf"(?=[a-z0-9.-]{{1,253}}(?![^;\r\n])){_LABEL_RE}(?:\.{_LABEL_RE})+"
_FQDN = re.compile(FQDN + r"\Z")


def name_problem(name: str) -> str | None:
    """Why NAME is not a valid machine name, or None."""
    if _LABEL.match(name):
        return None
    if name == "":
        return "the name is empty"
    if len(name) > 63:
        return f"the name is {len(name)} characters long (at most 63)"
    if "." in name:
        return "the name contains '.': give the short name only"
    if name.startswith("-") or name.endswith("-"):
        return "the name starts or ends with '-'"
    if any(c.isupper() for c in name):
        return "the name contains uppercase letters"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c == "-"))})
    return "the name contains " + ", ".join(repr(c) for c in bad)


def fqdn_problem(fqdn: str) -> str | None:
    """Why FQDN (NAME.DOMAIN, as the registry records a machine) is not a valid machine name, or None."""
    if _FQDN.match(fqdn):
        return None
    if len(fqdn) > 253:
        return f"the name is {len(fqdn)} characters long (at most 253)"
    short, dot, domain = fqdn.partition(".")
    problem = name_problem(short)
    if problem:
        return problem.replace("the name", f"the machine name {short[:70]!r}", 1)
    if not dot:
        return "the name has no domain (NAME.DOMAIN expected)"
    bad = sorted({c for c in domain if not (c.isascii() and (c.isalnum() or c in "-."))})
    if bad:
        return "the domain contains " + ", ".join(repr(c) for c in bad[:10])
    return "the domain is not made of DNS labels (lowercase a-z, 0-9, inner '-', separated by '.')"
