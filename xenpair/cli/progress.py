"""Showing builds while they run: a rich live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time


class PlainProgress:
    """One line per event on stderr: for logs, pipes and --json (no spinners, no redraws)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _say(self, role: str, text: str) -> None:
        with self._lock:                 # both builds report from their own threads
            sys.stderr.write(f"[{role}] {text}\n")
            sys.stderr.flush()

    def started(self, role, fqdn, host):
        self._say(role, f"building {fqdn} on {host}")

    def step(self, role, step):
        self._say(role, f"step: {step}")

    def finished(self, role, ok, elapsed, problem):
        self._say(role, f"built in {elapsed:.1f} s" if ok else f"FAILED after {elapsed:.1f} s: {problem}")

    def note(self, role, message):
        self._say(role, message)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class LiveProgress(PlainProgress):
    """A table with one row per machine: host, elapsed time, current step."""

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
            rows = [(role, dict(r)) for role, r in self.rows.items()]
        for role, r in rows:
            elapsed = (r["end"] or now) - r["start"]
            t.add_row(role, r["fqdn"], r["host"], f"{elapsed:5.1f} s", r["step"])
        return t

    def started(self, role, fqdn, host):
        with self._lock:
            self.rows[role] = {"fqdn": fqdn, "host": host, "start": time.monotonic(), "end": None,
                               "step": "starting"}

    def step(self, role, step):
        with self._lock:
            self.rows[role]["step"] = step

    def finished(self, role, ok, elapsed, problem):
        with self._lock:
            r = self.rows[role]
            r["end"] = r["start"] + elapsed
            r["step"] = "[green]done[/]" if ok else f"[red]FAILED[/]: {problem}"

    def note(self, role, message):
        self._live.console.print(f"[{role}] {message}", markup=False, highlight=False)


def for_output(json_out: bool):
    """Live on a terminal; plain lines without one or with --json."""
    return LiveProgress() if sys.stderr.isatty() and not json_out else PlainProgress()
