"""Showing builds while they run: a rich live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time


class PlainProgress:
    """One line per event on stderr: for logs, pipes and --json (no spinners, no redraws)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _say(self, kind: str, text: str) -> None:
        with self._lock:                 # both builds report from their own threads
            sys.stderr.write(f"[{kind}] {text}\n")
            sys.stderr.flush()

    def started(self, kind, fqdn, host):
        self._say(kind, f"building {fqdn} on {host}")

    def step(self, kind, step):
        self._say(kind, f"step: {step}")

    def finished(self, kind, ok, elapsed, problem):
        self._say(kind, f"built in {elapsed:.1f} s" if ok else f"FAILED after {elapsed:.1f} s: {problem}")

    def note(self, kind, message):
        self._say(kind, message)

    def waiting(self, kind, fqdn, host):
        self._say(kind, f"starting: waiting until {fqdn} answers SSH with its recorded host key (from {host})")

    def ready(self, kind, ok, seconds, problem):
        self._say(kind, f"ready {seconds:.1f} s after its start" if ok else f"NOT READY after {seconds:.1f} s: "
                  f"{problem}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class LiveProgress(PlainProgress):
    """A table with one row per machine: host, elapsed time, current step; the phases
    built -> starting -> ready each with their seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict] = {}
        self._live = None

    def __enter__(self):
        from rich.console import Console
        from rich.live import Live

        self._live = Live(get_renderable=self._table, console=Console(stderr=True, emoji=False),
                          refresh_per_second=4, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc):
        self._live.__exit__(*exc)
        return False

    def _table(self):
        """Called from rich's refresh thread while the build threads change the rows: both hold
        the lock, so the table never sees a row half changed (or the dict changing size)."""
        from rich.table import Table

        t = Table(box=None, pad_edge=False)
        for col in ("", "machine", "host", "time", "step"):
            t.add_column(col)
        now = time.monotonic()
        with self._lock:
            rows = [(kind, dict(r)) for kind, r in self.rows.items()]
        for kind, r in rows:
            elapsed = (r["end"] or now) - r["start"]
            t.add_row(kind, r["fqdn"], r["host"], f"{elapsed:5.1f} s", r.get("built", "") + r["step"])
        return t

    def started(self, kind, fqdn, host):
        with self._lock:
            self.rows[kind] = {"fqdn": fqdn, "host": host, "start": time.monotonic(), "end": None,
                               "step": "starting"}

    def step(self, kind, step):
        with self._lock:
            self.rows[kind]["step"] = step

    def finished(self, kind, ok, elapsed, problem):
        with self._lock:
            r = self.rows[kind]
            r["end"] = r["start"] + elapsed
            r["step"] = "[green]done[/]" if ok else f"[red]FAILED[/]: {problem}"

    def note(self, kind, message):
        self._live.console.print(f"[{kind}] {message}", markup=False, highlight=False)

    def waiting(self, kind, fqdn, host):
        with self._lock:
            r = self.rows.get(kind)
            built = f"built in {r['end'] - r['start']:.1f} s -> " if r and r["end"] else ""
            self.rows[kind] = {"fqdn": fqdn, "host": host, "start": time.monotonic(), "end": None,
                               "built": built, "step": "starting (waiting for SSH)"}

    def ready(self, kind, ok, seconds, problem):
        from rich.markup import escape

        with self._lock:
            r = self.rows[kind]
            r["end"] = time.monotonic()
            r["step"] = f"[green]ready[/] after {seconds:.1f} s" if ok else f"[red]NOT READY[/]: {escape(problem)}"


def for_output(json_out: bool):
    """Live on a terminal; plain lines without one or with --json."""
    return LiveProgress() if sys.stderr.isatty() and not json_out else PlainProgress()
