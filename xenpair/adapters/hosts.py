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

from xenpair.errors import Failed

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
    remote = False

    def __init__(self, stop_grace: float = 10.0) -> None:
        self.stop_grace = stop_grace      # how long the group gets after SIGTERM before SIGKILL
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def which(self, command: str) -> str | None:
        return shutil.which(command)

    def probe(self, command: str, paths: list[str]) -> tuple[str | None, dict[str, bool]]:
        return self.which(command), {p: self.exists(p) for p in paths}

    def run(self, argv: list[str], timeout: float | None = None,
            on_line: LineHandler | None = None, input=None) -> RunResult:
        """Run argv, collecting (and optionally streaming) stdout and stderr line by line.

        INPUT, if given, is the child's stdin (how file contents travel: never as argv): bytes, or
        an open binary file (read by the child itself: a golden image is too big for memory).
        The child gets its own session, so a Ctrl-C on the terminal reaches xenpair only;
        xenpair then stops its children with terminate_all().
        """
        stream = input is not None and not isinstance(input, bytes)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=input if stream else
                                    subprocess.DEVNULL if input is None else subprocess.PIPE,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, errors="replace",
                                    start_new_session=True)
        except OSError as e:          # missing command, E2BIG, EACCES, ...: never a traceback
            raise cannot_start(self.name, argv, e.strerror or str(e)) from None
        with self._lock:
            self._procs.add(proc)
        out: dict[str, list[str]] = {"stdout": [], "stderr": []}

        def pump(stream, name: str) -> None:
            for line in stream:
                out[name].append(line)
                if on_line:
                    on_line(name, line.rstrip("\n"))

        def feed() -> None:
            try:
                proc.stdin.buffer.write(input)
                proc.stdin.close()
            except BrokenPipeError:       # the child did not read it all: its exit code says why
                pass

        readers = [threading.Thread(target=pump, args=(proc.stdout, "stdout"), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, "stderr"), daemon=True)]
        if input is not None and not stream:
            readers.append(threading.Thread(target=feed, daemon=True))
        for t in readers:
            t.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc, self.stop_grace)
        except BaseException:              # interrupted while waiting here (Ctrl-C, SIGTERM): the child too
            _stop(proc, self.stop_grace)
            raise
        finally:
            for t in readers:
                t.join(timeout=5)
            with self._lock:
                self._procs.discard(proc)
        return RunResult(argv, proc.returncode, "".join(out["stdout"]), "".join(out["stderr"]),
                         time.monotonic() - start, timed_out)

    def connect(self, address: str, port: int, timeout: float):
        """A TCP connection from this dom0 (raises OSError when there is none)."""
        import socket

        return socket.create_connection((address, port), timeout=timeout)

    def terminate_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            _stop(proc, self.stop_grace)


def cannot_start(host: str, argv: list[str], reason: str) -> Failed:
    """The error for a command that could not be started at all on HOST."""
    shown = " ".join(argv[:3]) + (" ..." if len(argv) > 3 else "")
    return Failed(f"cannot run {argv[0]!r} on host {host}: {reason}", where=f"host {host}: {shown[:200]}",
                  hint="check that the command is installed there and the path in the config is right")


def probe_script(command: str, paths: list[str]) -> list[str]:
    """argv printing `command -v COMMAND` (or an empty line), then 1 or 0 per path: one round trip."""
    script = ('command -v "$1" || echo; shift; '
              'for p; do if [ -e "$p" ] || [ -L "$p" ]; then echo 1; else echo 0; fi; done')
    return ["sh", "-c", script, "sh", command, *paths]


def release_mounts(host, storage: list[str]) -> list[str]:
    """Unmount and detach what a failed or interrupted xen-create-image left of one guest.

    host: a LocalHost or SshHost. storage: the guest's image directory (dir storage) or its LV
    device paths. A failed run can leave the guest's root mounted on /tmp/XXXXXXXXXX (with the
    hooks' /proc and /dev/pts below it) and its loop device attached. Returns the mount points
    released. Works through host.run only, so it is the same on the backup dom0.
    """
    loops = {}
    for line in host.run(["losetup", "--noheadings", "--output", "NAME,BACK-FILE", "--list"]).stdout.splitlines():
        device, _, backing = line.strip().partition(" ")
        loops[device] = backing.strip().removesuffix(" (deleted)")
    mounts = [line.split()[:2] for line in host.run(["cat", "/proc/self/mounts"]).stdout.splitlines()]
    names = sorted(set(storage) | set(loops.values()) | {src for src, _ in mounts if src.startswith("/")})
    canonical = dict(zip(names, host.run(["readlink", "-m", "--", *names]).stdout.splitlines(), strict=False))
    owned = [canonical.get(p, p).rstrip("/") for p in storage]

    def ours(source: str) -> bool:
        target = canonical.get(loops.get(source, source), source)
        return any(target == p or target.startswith(p + "/") for p in owned)

    released = []
    for source, target in reversed(mounts):
        if ours(source):
            target = target.replace("\\040", " ")
            host.run(["umount", "--recursive", target])
            # xen-create-image's own mkdtemp folder; rmdir leaves it if anything is still in it
            host.run(["rmdir", "--", target])
            released.append(target)
    for device, backing in loops.items():
        if ours(backing):
            host.run(["losetup", "--detach", device])
    return released


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """Stop the child's whole process group: SIGTERM, then SIGKILL; each step waits for every
    process of the group, not just the one we started.

    Never SIGINT: xen-create-image 4.9's SIGINT handler unmounts the guest, sets its mount point
    to undef and *returns*, so the build goes on with "" as the guest root — it moves the dom0's
    own /etc/resolv.conf away, bind-mounts /proc on /proc, and may rewrite the root password in
    the dom0's /etc/shadow (seen here: the resolv.conf). SIGTERM has no handler: the group just
    dies, and the caller releases the mounts it leaves (release_mounts).
    """
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
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
