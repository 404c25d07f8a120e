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

    def __init__(self) -> None:
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
            _stop(proc)
        finally:
            for t in readers:
                t.join(timeout=5)
            with self._lock:
                self._procs.discard(proc)
        return RunResult(argv, proc.returncode, "".join(out["stdout"]), "".join(out["stderr"]),
                         time.monotonic() - start, timed_out)

    def terminate_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            _stop(proc)


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the child's process group, SIGKILL it after a grace period."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
