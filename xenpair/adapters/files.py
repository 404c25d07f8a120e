"""Small files on a dom0 (this one or the backup dom0 over SSH), through host.run argv only.

The same code for both kinds of host: the content travels as one argv item (shlex.join
quotes it on the SSH side), is written to a temporary file beside the target and renamed
over it, so a reader never sees half a file.
"""

from __future__ import annotations

from xenpair.errors import Failed

_WRITE = ('set -e; umask 077; d=$(dirname "$2"); mkdir -p "$d"; t=$(mktemp "$2.xenpair.XXXXXX"); '
          'printf "%s" "$1" >"$t"; chmod "$3" "$t"; '
          'if [ "$4" = backup ] && [ -e "$2" ]; then cp -p "$2" "$2.bak"; fi; mv -f "$t" "$2"')
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


def write(host, path: str, text: str, mode: str = "0644", backup: bool = False) -> None:
    """Replace path atomically with text (mode as octal digits); keep path.bak first if asked."""
    r = host.run(["sh", "-c", _WRITE, "sh", text, path, mode, "backup" if backup else "-"])
    if r.returncode != 0:
        raise Failed(f"cannot write {path} on {host.name}: {r.stderr.strip() or f'exit {r.returncode}'}",
                     hint="check that xenpair runs as root there and the file system is writable")


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
