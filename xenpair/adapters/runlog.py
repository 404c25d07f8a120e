"""xenpair's own log of one run: the argv and the full output of both machines, line by line."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path


def problem(directory: str) -> str | None:
    """Why a run log cannot be made in DIRECTORY (checked before anything is reserved), or None."""
    p = Path(directory)
    while not os.path.lexists(p):
        p = p.parent
    if not p.is_dir():
        return f"{p} is not a folder" + ("" if str(p) == directory else f" (on the way to {directory})")
    if not os.access(p, os.W_OK | os.X_OK):
        return f"{p} is not writable"
    return None


class RunLog:
    def __init__(self, directory: str, name: str):
        Path(directory).mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(directory) / f"{name}-{stamp}.log"
        n = 1
        while True:
            try:
                # 0600: the install summaries in it carry the root passwords
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                n += 1
                path = Path(directory) / f"{name}-{stamp}.{n}.log"
        self.path = str(path)
        self._file = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def write(self, kind: str, stream: str, line: str) -> None:
        with self._lock:
            self._file.write(f"{datetime.now():%H:%M:%S} {kind:<7} {stream:<6} {line}\n")

    def close(self) -> None:
        self._file.close()
