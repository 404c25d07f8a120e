"""Small files on a dom0 (this one, or the backup dom0 over SSH): read, write atomically, look at.

On this host, write() is adapters.atomic.write. On another host the same rules are kept by a
short script whose data comes on stdin (never as an argv item: a large file would not fit in
one): a temporary file beside the target, fsync, mode, rename over it, fsync of the folder;
PATH.bak (on request) is the file as it was before this change; a symlink is written through.
"""

from __future__ import annotations

import os

from xenpair.adapters import atomic
from xenpair.errors import Failed

_WRITE = r"""set -e
umask 077
p=$(readlink -m -- "$1"); d=$(dirname -- "$p"); mkdir -p -- "$d"
t=$(mktemp -- "$d/.xenpair.XXXXXXXXXX"); b=""
trap 'rm -f -- "$t" ${b:+"$b"}' EXIT
cat >"$t"; chmod -- "$2" "$t"; sync -- "$t"
if [ "$3" = backup ] && [ -e "$p" ]; then
  b=$(mktemp -- "$d/.xenpair.XXXXXXXXXX"); cp -p -- "$p" "$b"; sync -- "$b"; mv -f -- "$b" "$p.bak"; b=""
fi
mv -f -- "$t" "$p"; trap - EXIT; sync -- "$d"
"""
_STATE = ('d=$1; shift; for n; do f=$d/$n; if [ -f "$f" ]; then '
          'echo "$(sha256sum <"$f" | cut -d" " -f1) $(stat -c %a "$f") $([ -x "$f" ] && echo x || echo -)"; '
          'else echo "- - -"; fi; done')


def read(host, path: str) -> str | None:
    """The file's text, or None if it does not exist."""
    r = host.run(["sh", "-c", 'if [ -e "$1" ]; then cat -- "$1"; else exit 3; fi', "sh", path])
    if r.returncode == 3:
        return None
    if r.returncode != 0:
        raise Failed(f"cannot read {path} on {host.name}: {r.stderr.strip() or f'exit {r.returncode}'}")
    return r.stdout


def write(host, path: str, text: str | bytes, mode: str = "0644", backup: bool = False) -> None:
    """Replace path atomically with text (mode as octal digits); keep path.bak first if asked."""
    hint = "check that xenpair runs as root there and the file system is writable"
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not host.remote:
        try:
            os.makedirs(os.path.dirname(os.path.realpath(path)), mode=0o700, exist_ok=True)
            atomic.write(path, data, mode=int(mode, 8), backup=backup)
        except OSError as e:
            raise Failed(f"cannot write {path} on {host.name}: {e.strerror}", hint=hint) from None
        return
    r = host.run(["sh", "-c", _WRITE, "sh", path, mode, "backup" if backup else "-"], input=data)
    if r.returncode != 0:
        raise Failed(f"cannot write {path} on {host.name}: {r.stderr.strip() or f'exit {r.returncode}'}",
                     hint=hint)


def state(host, directory: str, names: list[str]) -> dict[str, tuple[str | None, str | None, bool]]:
    """For each name in directory: (sha256, mode, executable) — None, None, False if missing. One round trip."""
    r = host.run(["sh", "-c", _STATE, "sh", directory, *names])
    lines = r.stdout.splitlines()
    if r.returncode != 0 or len(lines) != len(names):
        raise Failed(f"cannot look at {directory} on {host.name}: {r.stderr.strip() or f'exit {r.returncode}'}")
    out = {}
    for name, line in zip(names, lines, strict=True):
        digest, mode, x = line.split()
        out[name] = (None, None, False) if digest == "-" else (digest, mode, x == "x")
    return out
