"""The Xen toolstack (`xl`) on a dom0: is a guest running, shut it down, start it."""

from __future__ import annotations

from xenpair.errors import Failed


def find(host, toolstack: str) -> tuple[str | None, str | None]:
    """(the toolstack's path on HOST, None) or (None, why it cannot be used there): one look-up."""
    path = host.which(toolstack)
    if path is None:
        return None, (f"the toolstack command {toolstack!r} is not there on host {host.name} "
                      "(no Xen toolstack installed: is this a dom0?)")
    return path, None


def missing(host, toolstack: str) -> str | None:
    """Why the toolstack cannot be used on HOST (not installed), or None."""
    return find(host, toolstack)[1]


def _require(host, toolstack: str) -> None:
    problem = missing(host, toolstack)
    if problem:
        raise Failed(problem, where=f"host {host.name}",
                     hint="install the Xen toolstack there (xen-utils), or set toolstack: in the config")


def running(host, toolstack: str, fqdn: str) -> bool:
    """True if the guest exists in `xl list`. No toolstack on the host: not running (as xen-tools does)."""
    if missing(host, toolstack):
        return False
    r = host.run([toolstack, "list", fqdn])
    if r.returncode == 0:
        return True
    if "invalid domain identifier" in r.stderr or "not found" in r.stderr.lower():
        return False
    raise Failed(f"cannot tell whether {fqdn} is running on host {host.name}: "
                 f"'{toolstack} list {fqdn}' exited {r.returncode}: {r.stderr.strip()[:200]}",
                 hint="check the toolstack on that dom0 (toolstack: in the config)")


def shutdown(host, toolstack: str, fqdn: str) -> None:
    """Clean shutdown, waiting for the guest to be gone."""
    _require(host, toolstack)
    r = host.run([toolstack, "shutdown", "-w", fqdn], timeout=600)
    if r.returncode != 0 or r.timed_out:
        raise Failed(f"'{toolstack} shutdown -w {fqdn}' on host {host.name} failed: {r.stderr.strip()[:200]}",
                     hint=f"stop it by hand ({toolstack} shutdown / destroy), then run the command again")


def start(host, toolstack: str, cfg_path: str) -> None:
    """`xl create CFG`; raises Failed saying why when it did not start."""
    _require(host, toolstack)
    r = host.run([toolstack, "create", cfg_path], timeout=600)
    if r.returncode != 0 or r.timed_out:
        raise Failed(f"'{toolstack} create {cfg_path}' on host {host.name} exited {r.returncode}: "
                     f"{(r.stderr or r.stdout).strip()[:300]}")
