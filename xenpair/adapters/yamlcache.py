"""What the site's YAML files parsed to, kept like a .pyc, so most calls skip PyYAML.

Importing PyYAML and parsing took ~8 ms of every call, a quarter of xenpair's own start-up
(docs/performance.md). The entry for a file is keyed by its identity — device, inode, size,
mtime and ctime, all in ns — so any write to it, a rename over it or a `touch` misses. A file
changed less than RACY_NS ago is not cached (git's "racy" rule): a second write within the same
timestamp tick and of the same size would otherwise go unseen. Any trouble with the cache (no
home, read-only, corrupt entry) means it is simply not used; it is never needed for correctness.
Entries are marshal data, as .pyc files are (json would cost its own import, ~1 ms), in a 0700
directory of the user's own; marshal keeps exactly what YAML gave or refuses it.

xenpair runs as root and a cache entry decides what it runs (xen_create_image.command), so the
cache is trusted only as far as nobody else could have written it: the folder and each entry are
opened without following symlinks (the entry relative to the folder's descriptor, so nothing can
be swapped in between) and used only when owned by the effective user and not writable by group
or others. Anything else is ignored (a bad entry is replaced by a fresh one of our own; a bad
folder is left alone), and `xenpair check` says why (problem()).
"""

from __future__ import annotations

import marshal
import os
import stat
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


def _name(path: Path) -> str | None:
    name = quote(os.path.abspath(path), safe="") + ".marshal"
    return None if len(name) > 250 else name


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _unsafe(st: os.stat_result) -> str | None:
    """Why a cache folder or entry with this stat must not be trusted, or None."""
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not by uid {os.geteuid()} (who runs xenpair)"
    if st.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def _open_dir(create: bool) -> int | None:
    """A descriptor of the cache folder if it is safe to trust, else None."""
    d = cache_dir()
    if create:
        with suppress(OSError):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    if _unsafe(os.fstat(fd)):
        os.close(fd)
        return None
    return fd


def get(path: Path, st: os.stat_result) -> Any | None:
    """The data cached for this very file, or None."""
    name = _name(path)
    dir_fd = None if name is None else _open_dir(create=False)
    if dir_fd is None:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as f:
            if _unsafe(os.fstat(f.fileno())):
                return None
            record = marshal.load(f)
        if record["format"] == _FORMAT and record["stamp"] == _stamp(st):
            return record["data"]
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        pass
    finally:
        os.close(dir_fd)
    return None


def put(path: Path, st: os.stat_result, data: Any) -> None:
    """Keep data for the file as it was at `st` (taken before it was read), if marshal can hold it."""
    name = _name(path)
    if name is None or time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_NS:
        return
    try:
        # YAML's dates and timestamps are not marshal types: such files are left to YAML
        blob = marshal.dumps({"format": _FORMAT, "stamp": _stamp(st), "data": data})
    except ValueError:
        return
    dir_fd = _open_dir(create=True)
    if dir_fd is None:
        return
    tmp = f".{name}.{os.urandom(6).hex()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=dir_fd)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def problem() -> str | None:
    """Why the cache is being ignored (for `xenpair check`), or None when it is used or absent."""
    d = cache_dir()
    try:
        st = os.lstat(d)
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"{d}: {e.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return f"{d} is not a folder (a symlink?)"
    why = _unsafe(st)
    if why:
        return f"{d} is {why}"
    bad = []
    with suppress(OSError):
        for entry in os.scandir(d):
            est = entry.stat(follow_symlinks=False)
            why = "a symlink" if entry.is_symlink() else _unsafe(est)
            if why:
                bad.append(f"{entry.name} is {why}")
    return f"{d}: entries ignored: " + "; ".join(bad[:5]) if bad else None
