"""Editing a Xen domain cfg file structurally: move an external IP onto its own vif.

The file is split into tokens of the xl cfg grammar (strings, comments, brackets, names); the
edit replaces one string token and inserts one list item, so everything else — comments,
multi-line lists, odd spacing — stays byte for byte. Nothing is done with regular expressions
over the whole file (the old wrapper's broken `sed` is the cautionary tale).
"""

from __future__ import annotations

import difflib
import random
import re
from dataclasses import dataclass
from pathlib import Path

from xenpair.adapters import atomic
from xenpair.errors import BadInput

_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>'[^'\n]*'|"(?:[^"\\\n]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<number>[0-9][0-9A-Za-z.x]*)
  | (?P<op>\+=|[=,\[\];])
  | (?P<newline>\n)
  | (?P<space>[ \t\r]+)
""", re.X)
XEN_OUI = "00:16:3e"


@dataclass
class Token:
    kind: str
    text: str
    start: int
    end: int


class CfgError(BadInput):
    pass


def tokens(text: str, where: str) -> list[Token]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise CfgError(f"cannot parse the Xen cfg: unexpected {text[pos]!r}", where=f"{where}:{line}",
                           hint="fix the file by hand; xenpair changes only files it can read")
        if m.lastgroup not in ("space", "comment", "newline"):
            out.append(Token(m.lastgroup, m.group(), m.start(), m.end()))
        pos = m.end()
    return out


def _vif_items(toks: list[Token], where: str) -> tuple[int, int, list[Token]]:
    """Index of '[' and ']' of the vif list, and its string items."""
    for i, t in enumerate(toks):
        if t.kind == "name" and t.text == "vif" and i + 2 < len(toks) and toks[i + 1].text == "=":
            if toks[i + 2].text != "[":
                raise CfgError("the vif setting is not a list", where=where)
            items, j, want_item = [], i + 3, True
            while j < len(toks) and toks[j].text != "]":
                if toks[j].kind == "string" and want_item:
                    items.append(toks[j])
                elif toks[j].text == "," and not want_item:
                    pass
                else:
                    raise CfgError(f"unexpected {toks[j].text!r} in the vif list", where=where)
                want_item = not want_item
                j += 1
            if j == len(toks):
                raise CfgError("the vif list is not closed with ']'", where=where)
            return i + 2, j, items
    raise CfgError("the cfg has no vif setting", where=where)


def _fields(item: Token) -> list[tuple[str, str]]:
    body = item.text[1:-1]
    return [(k.strip(), v) for k, _, v in (part.partition("=") for part in body.split(",") if part.strip())]


def _render(fields: list[tuple[str, str]], quote: str) -> str:
    return quote + ",".join(f"{k}={v}" for k, v in fields) + quote


def macs_in_text(text: str) -> set[str]:
    return {m.lower() for m in re.findall(r"mac=([0-9A-Fa-f:]{17})", text)}


def macs_in(cfg_dir: str) -> set[str]:
    """Every MAC in every cfg file of CFG_DIR (lower case)."""
    found = set()
    for path in Path(cfg_dir).glob("*.cfg"):
        try:
            found |= macs_in_text(path.read_text(errors="replace"))
        except OSError:
            continue
    return found


def macs_on(host, cfg_dir: str) -> set[str]:
    """The same for a cfg_dir on another host (the backup dom0), in one round trip."""
    r = host.run(["sh", "-c", 'cat -- "$1"/*.cfg 2>/dev/null; true', "sh", cfg_dir])
    return macs_in_text(r.stdout)


def new_mac(taken: set[str]) -> str:
    rng = random.SystemRandom()
    while True:
        mac = XEN_OUI + "".join(f":{rng.randrange(256):02x}" for _ in range(3))
        if mac not in taken:
            return mac


def move_external_ip(text: str, ext: str, mac: str, bridge: str, where: str) -> str:
    """The cfg text with EXT off the internal vif's ip= list and on a vif of its own.

    Already done (EXT has its own vif, no other vif lists it) -> the text unchanged.
    """
    toks = tokens(text, where)
    _, close, items = _vif_items(toks, where)
    own = [it for it in items if dict(_fields(it)).get("ip", "").split() == [ext]]
    shared = [it for it in items if ext in dict(_fields(it)).get("ip", "").split() and it not in own]
    edits: list[tuple[int, int, str]] = []
    for it in shared:
        fields = [(k, " ".join(ip for ip in v.split() if ip != ext) if k == "ip" else v) for k, v in _fields(it)]
        edits.append((it.start, it.end, _render(fields, it.text[0])))
    if not own:
        last = items[-1] if items else toks[close - 1]
        multiline = "\n" in text[toks[close - 1].end if not items else items[0].start:toks[close].start]
        indent = " " * (items[0].start - text.rfind("\n", 0, items[0].start) - 1) if items and multiline else ""
        sep = f",\n{indent}" if multiline else ", "
        new = f"'ip={ext},mac={mac},bridge={bridge}'"
        after_comma = close - 1 >= 0 and toks[close - 1].text == "," and items
        if after_comma:                       # a trailing comma stays trailing
            edits.append((toks[close - 1].end, toks[close - 1].end, f"\n{indent}{new}," if multiline else f" {new},"))
        elif items:
            edits.append((last.end, last.end, sep + new))
        else:
            edits.append((toks[close].start, toks[close].start, new))
    for start, end, repl in sorted(edits, reverse=True):
        text = text[:start] + repl + text[end:]
    tokens(text, where)                       # still readable
    return text


def remove_external_ip(text: str, ext: str, where: str) -> str:
    """The cfg text without EXT: its own vif dropped, and EXT off any other vif's ip= list."""
    toks = tokens(text, where)
    _, _, items = _vif_items(toks, where)
    edits: list[tuple[int, int, str]] = []
    for i, it in enumerate(items):
        ips = dict(_fields(it)).get("ip", "").split()
        if ips == [ext]:
            if i > 0:                         # drop ", 'item'" after the previous item
                edits.append((items[i - 1].end, it.end, ""))
            else:                             # drop "'item', " before the next one
                edits.append((it.start, items[1].start if len(items) > 1 else it.end, ""))
        elif ext in ips:
            fields = [(k, " ".join(ip for ip in v.split() if ip != ext) if k == "ip" else v) for k, v in _fields(it)]
            edits.append((it.start, it.end, _render(fields, it.text[0])))
    for start, end, repl in sorted(edits, reverse=True):
        text = text[:start] + repl + text[end:]
    tokens(text, where)
    return text


def diff(old: str, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), path, path + " (new)"))


def write_with_backup(path: str, new: str) -> None:
    """Replace the cfg atomically; <cfg>.bak is the file as it was before this change."""
    atomic.write(path, new, backup=True)
