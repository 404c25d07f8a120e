"""An apt proxy on 127.0.0.1 that replays what was recorded once, so guests install packages offline.

The role tests install real Debian packages with the guests' own apt, as a site with an
apt-cacher-ng does (xen-create-image --apt_proxy). `make test` records the answers once
(tests/tools/make-aptcache, the only step that goes to the Debian mirror, like debootstrap);
in the tests the proxy only replays: anything not recorded is a 404, never fetched, so the
tests' traffic stays on 127.0.0.1. The indexes are Debian's own, signed: apt checks them as usual.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class AptProxy:
    def __init__(self, store: Path, record: bool = False):
        self.store, self.record = store, record
        # the mirror the answers were recorded from (STORE/.mirror): guests must name that one
        mirror_file = store / ".mirror"
        self.mirror = mirror_file.read_text().strip() if mirror_file.is_file() else None
        self.misses: list[str] = []
        self.served = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"       # apt keeps the connection and pipelines

            def do_GET(self):
                proxy._answer(self, body=True)

            def do_HEAD(self):
                proxy._answer(self, body=False)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AptProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _file(self, url: str) -> Path | None:
        u = urlsplit(url)
        if u.scheme != "http" or not u.hostname or ".." in u.path.split("/"):
            return None
        return self.store / u.hostname / u.path.lstrip("/")

    def _answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = self._file(h.path)
        data = None
        if path is not None and path.is_file():
            data = path.read_bytes()
        elif path is not None and self.record:
            data = self._fetch(h.path, path)
        if data is None:
            self.misses.append(h.path)
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        self.served += 1
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body:
            h.wfile.write(data)

    def _fetch(self, url: str, path: Path) -> bytes | None:
        for _ in range(4):                      # a mirror may redirect
            u = urlsplit(url)
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
            try:
                conn.request("GET", u.path, headers={"User-Agent": "xenpair-test-aptproxy"})
                r = conn.getresponse()
                data = r.read()
            finally:
                conn.close()
            if r.status in (301, 302, 303, 307, 308) and r.getheader("Location", "").startswith("http://"):
                url = r.getheader("Location")
                continue
            break
        if r.status != 200:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        return data
