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
import time
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


def plan_install(target: Path | None, tar: Path | None):
    """Write the OS definition into TARGET (a folder, replaced whole: a node's
    /srv/ganeti/os/xenpair) or into the tar file TAR (to send to every node with `gnt-cluster
    copyfile`). Refused where another user could swap what root writes or what Ganeti runs."""
    import os
    import shutil

    from xenpair.adapters.atomic import write as write_atomic
    from xenpair.core.plan import Plan
    from xenpair.errors import BadInput

    found = files()
    dest = (target or tar).absolute()
    parent = dest.parent
    if parent.exists() and not parent.is_dir():
        raise BadInput(f"{parent} is not a folder", where=str(dest), hint="give a folder's path")
    for d in (parent, *parent.parents):          # sticky folders (/tmp) only above the parent
        if not d.exists():                       # made by the plan (mode 0755), as /srv/ganeti/os on a new node
            continue
        st = d.stat()
        if st.st_uid not in (0, os.geteuid()) or (st.st_mode & 0o022 and (d == parent or not st.st_mode & 0o1000)):
            raise BadInput(f"{d} can be changed by another user: what xenpair writes below it could be "
                           "swapped before Ganeti runs it as root", where=str(dest),
                           hint="choose a folder only root can change" + (
                               "" if d != parent else f", or make it so: chown root {d}; chmod go-w {d}"))
    plan = Plan(f"install xenpair's Ganeti OS definition {'into ' + str(dest) if target else 'as ' + str(dest)}",
                {"target": str(dest), "files": sorted(found), "os": OS_NAME})

    def to_folder() -> None:
        parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        new, old = dest.with_name(dest.name + ".xenpair-new"), dest.with_name(dest.name + ".xenpair-old")
        for leftover in (new, old):
            shutil.rmtree(leftover, ignore_errors=True)
        for rel, (data, mode) in found.items():
            (new / rel).parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            (new / rel).write_bytes(data)
            (new / rel).chmod(mode)
        new.chmod(0o755)
        if dest.exists():
            dest.rename(old)
        new.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
        plan.result = {"installed": str(dest), "files": len(found)}

    def to_tar() -> None:
        parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            for rel, (data, mode) in sorted(found.items()):
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = len(data), mode, int(time.time())
                t.addfile(info, io.BytesIO(data))
        write_atomic(dest, buf.getvalue(), 0o644)
        plan.result = {"installed": str(dest), "files": len(found)}

    plan.add(f"write {len(found)} files (the scripts, the role scripts under roles/)", {"target": str(dest)},
             to_folder if target else to_tar)
    return plan
