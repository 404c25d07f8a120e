"""xenpair's Ganeti OS definition (xenpair/ganeti_os): its files, and the OS parameters one
machine gets — the same roles and XENPAIR_* environment as on the xen-tools backend
(core.roles.for_machine), and SSH host keys xenpair makes itself, so that it knows the
fingerprints `wait` must see without reading a node's log."""

from __future__ import annotations

import base64
import io
import subprocess
import tarfile
import tempfile
from importlib import resources
from pathlib import Path

from xenpair.config import Config
from xenpair.core import roles
from xenpair.errors import Failed

OS_NAME = "xenpair"


def files() -> dict[str, tuple[bytes, int]]:
    """Relative path -> (content, mode) of the OS definition as it goes to /srv/ganeti/os/xenpair
    on every node: the scripts, and the role scripts under roles/ (scripts 0755, the rest 0644)."""
    base = resources.files("xenpair")
    found = {f.name: f.read_bytes() for f in (base / "ganeti_os").iterdir()}
    found |= {f"roles/{name}": (base / "roles" / name).read_bytes() for name in roles.SHIPPED}
    return {rel: (data, 0o755 if data.startswith(b"#!") else 0o644) for rel, data in found.items()}


def host_keys(types: list[str], hostname: str) -> tuple[str, list[dict]]:
    """New SSH host keys for one guest: (base64 of a tar of its ssh_host_* files, their
    fingerprints as the install summary lists them: [{algorithm, fingerprint}])."""
    with tempfile.TemporaryDirectory(prefix="xenpair-keys.") as d:
        prints = []
        for t in types:
            path = Path(d) / f"ssh_host_{t}_key"
            r = subprocess.run(["ssh-keygen", "-q", "-t", t, "-N", "", "-C", f"root@{hostname}", "-f", str(path)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise Failed(f"ssh-keygen -t {t} failed: {r.stderr.strip()}")
            line = subprocess.run(["ssh-keygen", "-l", "-f", f"{path}.pub"], capture_output=True, text=True,
                                  check=True).stdout.split()
            prints.append({"algorithm": line[-1].strip("()"), "fingerprint": line[1]})
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for p in sorted(Path(d).iterdir()):
                tar.add(p, arcname=p.name)
    return base64.b64encode(buf.getvalue()).decode(), prints


def parameters(cfg: Config, kind: str, hostname: str, image: str, external_ip: bool = False,
               authorized_keys: tuple[str, ...] = (), root_password_hash: str | None = None
               ) -> tuple[dict[str, str], dict[str, str], list[dict]]:
    """(OS parameters, secret OS parameters, the host keys' fingerprints) for one machine."""
    run = roles.for_machine(cfg, kind, external_ip, authorized_keys)
    # one NAME=base64(value) line each: values may hold newlines (authorized keys)
    env = "".join(f"{k}={base64.b64encode(v.encode()).decode()}\n" for k, v in run.env)
    params = {"image": image, "roles": " ".join(run.names), "role_env": base64.b64encode(env.encode()).decode()}
    keys, prints = host_keys(list(cfg.ready.host_key_types), hostname)
    secret = {"host_keys": keys}
    if root_password_hash:
        secret["root_password_hash"] = root_password_hash
    return params, secret, prints
