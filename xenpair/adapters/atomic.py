"""The one way xenpair replaces a file on this host: never half written, never lost.

write(): a new file beside the target (O_EXCL, a name nobody can guess or pre-create), the data,
fsync, mode, rename over the target, fsync of the directory. A reader sees the old file or the
new one, and after a crash or power loss one of them is on disk.

The one .bak rule: with backup=True, PATH.bak becomes the file as it was right before this
change (replaced on every change, so it never goes stale after a rebuild), written the same way.

A symlink is written through to its target: the link stays, and every reader of the link sees
the new content (replacing the link itself would leave the target with the old rows).
`files.write` does the same on another host (over SSH, the data on stdin).
"""

from __future__ import annotations

import os
from pathlib import Path


def write(path: str | os.PathLike, data: str | bytes, mode: int | None = None, backup: bool = False) -> None:
    """Replace PATH with DATA. mode None: keep the file's mode (0644 for a new file)."""
    target = Path(os.path.realpath(path))
    blob = data.encode("utf-8") if isinstance(data, str) else data
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if mode is None:
        mode = (st.st_mode & 0o7777) if st else 0o644
    if backup and st is not None:
        _replace(target.with_name(target.name + ".bak"), target.read_bytes(), st.st_mode & 0o7777)
    _replace(target, blob, mode)


def _replace(target: Path, blob: bytes, mode: int) -> None:
    tmp = target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
