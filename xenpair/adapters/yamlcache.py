"""What the site's YAML files parsed to, kept like a .pyc, so most calls skip PyYAML.

Importing PyYAML and parsing took ~8 ms of every call, a quarter of xenpair's own start-up
(docs/performance.md). The entry for a file is keyed by its identity — device, inode, size,
mtime and ctime, all in ns — so any write to it, a rename over it or a `touch` misses. A file
changed less than RACY_NS ago is not cached (git's "racy" rule): a second write within the same
timestamp tick and of the same size would otherwise go unseen. Any trouble with the cache (no
home, read-only, corrupt entry) means it is simply not used; it is never needed for correctness.
Entries are marshal data, as .pyc files are (json would cost its own import, ~1 ms), in a 0700
directory of the user's own; marshal keeps exactly what YAML gave or refuses it.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

RACY_NS = 2_000_000_000
_FORMAT = (1, marshal.version, sys.version_info[:2])


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xenpair"


def _entry(path: Path) -> Path | None:
    name = quote(os.path.abspath(path), safe="") + ".marshal"
    return None if len(name) > 250 else cache_dir() / name


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def get(path: Path, st: os.stat_result) -> Any | None:
    """The data cached for this very file, or None."""
    entry = _entry(path)
    if entry is None:
        return None
    try:
        with open(entry, "rb") as f:
            record = marshal.load(f)
        if record["format"] == _FORMAT and record["stamp"] == _stamp(st):
            return record["data"]
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        pass
    return None


def put(path: Path, st: os.stat_result, data: Any) -> None:
    """Keep data for the file as it was at `st` (taken before it was read), if marshal can hold it."""
    entry = _entry(path)
    if entry is None or time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_NS:
        return
    try:
        # YAML's dates and timestamps are not marshal types: such files are left to YAML
        blob = marshal.dumps({"format": _FORMAT, "stamp": _stamp(st), "data": data})
    except ValueError:
        return
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, entry)
    except OSError:
        with suppress(OSError):
            tmp.unlink()
