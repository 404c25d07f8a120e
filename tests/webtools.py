"""The self-service pages running for real: `xenpair web migrate`, `web user`, `web serve`
(gunicorn on 127.0.0.1) and `web worker`, each a process of the real CLI with the site's config.
Shared by tests/test_web_browser.py and bench/web.py."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import XENPAIR

CHROMIUM = "/usr/bin/chromium"          # Debian's package: Playwright drives it, never downloads one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_config(root: Path, heartbeat: float = 0.5) -> dict:
    return {"database": str(root / "web" / "db.sqlite3"), "secret_key_file": str(root / "web" / "secret_key"),
            "static_dir": str(root / "web" / "static"), "allowed_hosts": ["127.0.0.1"], "heartbeat": heartbeat}


@dataclass
class WebSite:
    config_path: Path
    logs: Path
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run(XENPAIR + ["--config", str(self.config_path), *args], input=input, capture_output=True,
                           text=True, timeout=120, stdin=None if input is not None else subprocess.DEVNULL)
        assert r.returncode == 0, f"xenpair {' '.join(args)}: {r.stderr}"
        return r

    def user(self, name: str, password: str, *options: str) -> None:
        self.cli("web", "user", name, "--password-stdin", *options, input=password + "\n")

    def _start(self, name: str, *args: str) -> None:
        log = open(self.logs / f"{name}.log", "w")          # a pipe nobody reads would block it
        self.procs.append(subprocess.Popen(XENPAIR + ["--config", str(self.config_path), *args],
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))

    def start(self, workers: int = 1) -> WebSite:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.cli("web", "migrate")
        self._start("serve", "web", "serve", "--listen", f"127.0.0.1:{self.port}", "--workers", "2")
        for i in range(workers):
            self._start(f"worker{i}", "web", "worker")
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/login/", timeout=2)
                return self
            except OSError:
                if time.monotonic() > deadline or self.procs[0].poll() is not None:
                    raise RuntimeError("xenpair web serve did not answer:\n" + self.log("serve")) from None
                time.sleep(0.2)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()
