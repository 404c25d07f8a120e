"""Where commands run. LocalHost runs argv lists with subprocess (never a shell)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LineHandler = Callable[[str, str], None]   # (stream name, line without newline)


@dataclass
class RunResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    timed_out: bool = False


class LocalHost:
    name = "local"

    def __init__(self, stop_grace: float = 60.0) -> None:
        self.stop_grace = stop_grace      # how long xen-create-image gets to clean up after SIGINT
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def which(self, command: str) -> str | None:
        return shutil.which(command)

    def run(self, argv: list[str], timeout: float | None = None,
            on_line: LineHandler | None = None) -> RunResult:
        """Run argv, collecting (and optionally streaming) stdout and stderr line by line.

        The child gets its own session, so a Ctrl-C on the terminal reaches xenpair only;
        xenpair then stops its children with terminate_all().
        """
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)
        with self._lock:
            self._procs.add(proc)
        out: dict[str, list[str]] = {"stdout": [], "stderr": []}

        def pump(stream, name: str) -> None:
            for line in stream:
                out[name].append(line)
                if on_line:
                    on_line(name, line.rstrip("\n"))

        readers = [threading.Thread(target=pump, args=(proc.stdout, "stdout"), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, "stderr"), daemon=True)]
        for t in readers:
            t.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc, self.stop_grace)
        finally:
            for t in readers:
                t.join(timeout=5)
            with self._lock:
                self._procs.discard(proc)
        return RunResult(argv, proc.returncode, "".join(out["stdout"]), "".join(out["stderr"]),
                         time.monotonic() - start, timed_out)

    def release_mounts(self, storage: list[str]) -> list[str]:
        """Unmount and detach what a failed or interrupted xen-create-image left of these guests.

        storage: the guest's image directory (dir storage) or its LV device paths. A failed
        run can leave the guest's root mounted on /tmp/XXXXXXXXXX (with /proc and /dev/pts of
        the hooks below it) and its loop device attached. Returns the mount points released.
        """
        loops = _loop_backing_files()
        owned = [os.path.realpath(p) for p in storage]

        def ours(source: str) -> bool:
            target = os.path.realpath(loops.get(source, source))
            return any(target == p or target.startswith(p.rstrip("/") + "/") for p in owned)

        mounts = [line.split()[:2] for line in Path("/proc/self/mounts").read_text().splitlines()]
        released = []
        for source, target in reversed(mounts):
            if ours(source):
                target = target.replace("\\040", " ")
                subprocess.run(["umount", "--recursive", target], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
                released.append(target)
        for device, backing in _loop_backing_files().items():
            if ours(backing):
                subprocess.run(["losetup", "--detach", device], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
        return released

    def terminate_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            _stop(proc, self.stop_grace)


def _loop_backing_files() -> dict[str, str]:
    out = {}
    for loop in Path("/sys/block").glob("loop*"):
        try:
            backing = (loop / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue                      # not attached
        out[f"/dev/{loop.name}"] = backing.removesuffix(" (deleted)")
    return out


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """Stop the child's whole process group, politely first.

    xen-create-image traps SIGINT: it unmounts the guest image, then fails and removes the
    half-built guest itself (xen-delete-image). SIGTERM and SIGKILL are only the fallbacks, and
    each step waits for every process of the group, not just the one we started.
    """
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                proc.wait(timeout=0.1)      # reap our child, or the group never looks empty
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
