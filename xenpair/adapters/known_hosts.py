"""The known_hosts file xenpair keeps on each dom0, so the admin's first `ssh` to a new guest is
already verified (the keys in it were checked against the install summary by `xenpair wait`).

Default /etc/ssh/ssh_known_hosts2: OpenSSH on Debian bookworm reads it for every user without any
configuration (GlobalKnownHostsFile is "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2";
`ssh -G HOST` shows it), and it is normally unused, so xenpair does not share a file an admin
edits by hand. Even so, only lines whose host names are exactly a machine's FQDN or address are
ever replaced or removed; every other line is kept as it is. One short script does the edit on
the dom0 (this one or the backup dom0 over SSH) under flock on <file>.lock, with the new lines
on stdin, and replaces the file atomically.
"""

from __future__ import annotations

from xenpair.errors import Failed

_EDIT = r"""set -e
f=$(readlink -m -- "$1"); shift
d=$(dirname -- "$f"); mkdir -p -- "$d"
exec 9>>"$f.lock"; flock -w 60 9
t=$(mktemp -- "$d/.xenpair.XXXXXXXXXX"); trap 'rm -f -- "$t"' EXIT
{ if [ -f "$f" ]; then
    awk -v names="$*" 'BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) drop[a[i]] = 1 }
      /^[ \t]*(#|@|$)/ { print; next }
      { k = split($1, h, ","); for (i = 1; i <= k; i++) if (h[i] in drop) next; print }' "$f"
  fi; cat; } >"$t"
chmod 0644 "$t"; sync -- "$t"; mv -f -- "$t" "$f"; trap - EXIT; sync -- "$d"
"""


def line(names: list[str], key_type: str, blob: str) -> str:
    return f"{','.join(names)} {key_type} {blob}\n"


def replace(host, path: str, names: list[str], lines: list[str]) -> None:
    """Remove every line for any of NAMES from PATH on HOST, then add LINES (none: just remove)."""
    for name in names:
        # names go to awk as one space-separated list; an FQDN or address never holds a blank
        if not name or any(c.isspace() or c == "," for c in name):
            raise ValueError(f"not a host name for known_hosts: {name!r}")
    r = host.run(["sh", "-c", _EDIT, "sh", path, *names], input="".join(lines).encode())
    if r.returncode != 0:
        raise Failed(f"cannot update {path} on host {host.name}: {r.stderr.strip() or f'exit {r.returncode}'}",
                     hint="check that xenpair runs as root there; ready.known_hosts in the config names the file")
