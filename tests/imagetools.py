"""Helpers for the golden image tests: put an image into a store, a local apt repository, a mirror
that never answers."""

from __future__ import annotations

import email.utils
import hashlib
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from xenpair.adapters import debootstrap, image_store
from xenpair.adapters.hosts import LocalHost
from xenpair.adapters.image_store import Manifest


def publish(directory: Path, tar: Path, dist: str, days_old: float = 0.0, version: str | None = None,
            host=None) -> Manifest:
    """Store TAR as an image of DIST through xenpair's own receive path (the copy script a backup
    dom0 runs: checksum checked, renamed into place, manifest last)."""
    created = datetime.now(UTC) - timedelta(days=days_old)
    size, sha = debootstrap.digest(str(tar))
    m = Manifest(dist=dist, version=version or image_store.new_version(created), created=created,
                 source=f"test: {tar.name}", arch="amd64", size=size, sha256=sha, sources_list="",
                 packages={"base-files": "12.4"})
    with open(tar, "rb") as f:
        image_store.receive(host or LocalHost(), str(directory), m, f)
    return m


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class LocalRepo:
    """A Debian repository on 127.0.0.1 (dists/bookworm/main, unsigned: apt needs [trusted=yes]),
    serving one small package, xenpair-testpkg, in the version set with publish()."""

    PACKAGE = "xenpair-testpkg"

    def __init__(self, root: Path, suite: str = "bookworm"):
        self.root, self.suite = root, suite
        root.mkdir(parents=True, exist_ok=True)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def sources_line(self) -> str:
        return f"deb [trusted=yes] {self.url} {self.suite} main\n"

    def deb(self, version: str) -> Path:
        """Build xenpair-testpkg_VERSION_all.deb (it installs /usr/share/xenpair-testpkg/version)."""
        src = self.root / "build" / version
        (src / "DEBIAN").mkdir(parents=True, exist_ok=True)
        (src / "usr/share" / self.PACKAGE).mkdir(parents=True, exist_ok=True)
        (src / "usr/share" / self.PACKAGE / "version").write_text(version + "\n")
        (src / "DEBIAN/control").write_text(
            f"Package: {self.PACKAGE}\nVersion: {version}\nArchitecture: all\n"
            "Maintainer: xenpair tests <root@localhost>\nDescription: a package for xenpair's refresh test\n")
        out = self.root / "pool" / f"{self.PACKAGE}_{version}_all.deb"
        out.parent.mkdir(exist_ok=True)
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(src), str(out)], check=True,
                       capture_output=True)
        return out

    def publish(self, version: str) -> Path:
        deb = self.deb(version)
        data = deb.read_bytes()
        packages = (f"Package: {self.PACKAGE}\nVersion: {version}\nArchitecture: all\n"
                    f"Maintainer: xenpair tests <root@localhost>\nFilename: pool/{deb.name}\nSize: {len(data)}\n"
                    f"SHA256: {hashlib.sha256(data).hexdigest()}\nDescription: a package for xenpair's refresh "
                    "test\n\n").encode()
        dist = self.root / "dists" / self.suite
        (dist / "main/binary-amd64").mkdir(parents=True, exist_ok=True)
        (dist / "main/binary-amd64/Packages").write_bytes(packages)
        (dist / "Release").write_text(
            f"Suite: {self.suite}\nCodename: {self.suite}\nDate: {email.utils.formatdate(usegmt=True)}\n"
            "Architectures: amd64\nComponents: main\nSHA256:\n"
            f" {hashlib.sha256(packages).hexdigest()} {len(packages)} main/binary-amd64/Packages\n")
        return deb

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SilentMirror:
    """A 'mirror' on 127.0.0.1 that accepts connections and never answers: debootstrap waits."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/debian"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()
