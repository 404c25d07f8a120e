"""Golden images on a dom0 (this one, or the backup dom0 over SSH): list, verify, receive, remove.

Layout in images.dir: DIST/VERSION.tar (the root file system, for xen-create-image
--install-method=tar) and DIST/VERSION.json (its manifest: dist, date, packages, size, sha256).
An image exists only when both do: the tar is renamed into place first, the manifest last, so a
reader never sees an image that is still being written. Writers (build, refresh, copy, remove)
hold an exclusive flock on DIR/.lock.

Everything here works through host.run with short fixed scripts whose data are positional
arguments or stdin, so it is the same on both dom0s. xenpair runs as root and hands these files
to xen-create-image: a folder another user can write to is refused (see _TRUST).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from xenpair.errors import BadInput, Failed

VERSION = re.compile(r"[0-9]{8}T[0-9]{6}Z\Z")
DIST = re.compile(r"[a-z][a-z0-9.-]{0,31}\Z")
BUSY = 75          # the exit code of the scripts below when another writer holds the lock

# For images.dir and each path above it: owner uid, mode (octal), sticky?, path. Then each
# DIST folder, and per manifest "M <tar size or -> <manifest path>" and the manifest on one line.
_LIST = r"""d=$1
[ -d "$d" ] || { echo absent; exit 0; }
p=$(readlink -f -- "$d")
while :; do stat -L -c 'T %u %a %n' -- "$p"; [ "$p" = / ] && break; p=$(dirname -- "$p"); done
for s in "$d"/*; do [ -e "$s" ] || continue; stat -c 'S %u %a %F' -- "$s" | tr '\n' ' '; echo "$s"; done
for m in "$d"/*/*.json; do
  [ -f "$m" ] || continue
  t=${m%.json}.tar
  echo "M $(stat -c %s -- "$t" 2>/dev/null || echo -) $m"
  head -c 4194304 -- "$m" | tr '\n' ' '; echo
done
"""
_LOCKED = r"""exec 9>>"$d/.lock"
flock -n 9 || { echo "another xenpair image build, refresh, copy or remove holds $d/.lock" >&2; exit 75; }
"""
# OpenSSL's SHA-256 where it is there: 5x coreutils' sha256sum here (0.7 s against 3.7 s for 800 MB)
_SHA256 = r"""sha256() {
  if command -v openssl >/dev/null; then openssl dgst -sha256 -r <"$1"; else sha256sum <"$1"; fi | cut -d' ' -f1
}
"""
_RECEIVE = r"""set -eu
umask 077
d=$1 dist=$2 v=$3 sum=$4 manifest=$5
""" + _SHA256 + r"""mkdir -p -- "$d/$dist"
""" + _LOCKED + r"""t=$(mktemp -- "$d/$dist/.incoming.XXXXXXXXXX")
trap 'rm -f -- "$t" "$t.json"' EXIT
trap 'exit 143' TERM HUP INT          # stopped (xenpair interrupted): the EXIT trap still cleans up
cat >"$t"
got=$(sha256 "$t")
[ "$got" = "$sum" ] || { echo "the copy's sha256 is $got, the manifest says $sum" >&2; exit 3; }
printf '%s\n' "$manifest" >"$t.json"
sync -- "$t" "$t.json"
mv -f -- "$t" "$d/$dist/$v.tar"; mv -f -- "$t.json" "$d/$dist/$v.json"
trap - EXIT; sync -- "$d/$dist"
"""
# the manifest first: without it no reader takes the tar any more
_REMOVE = r"""set -eu
d=$1; shift
""" + _LOCKED + r"""for f; do rm -f -- "$d/$f.json"; rm -f -- "$d/$f.tar"; done
"""


class Manifest(BaseModel):
    """What an image is; written by xenpair, and validated like any other input when read back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = 1
    dist: str = Field(pattern=r"^[a-z][a-z0-9.-]{0,31}$")
    version: str = Field(pattern=r"^[0-9]{8}T[0-9]{6}Z$")
    created: AwareDatetime                  # when the tar was made (UTC)
    checked: AwareDatetime | None = None    # a later refresh found nothing to upgrade
    source: str = Field(max_length=500)     # "debootstrap MIRROR" or "refresh of VERSION"
    arch: str = Field(pattern=r"^[a-z0-9]+$")
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sources_list: str = Field(max_length=10000)
    packages: dict[str, str]

    def line(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def age_days(self, now: datetime | None = None) -> float:
        """Days since it was last known current: made, or checked by a refresh with nothing to do."""
        return ((now or datetime.now(UTC)) - (self.checked or self.created)).total_seconds() / 86400


@dataclass
class Stored:
    """One image on one dom0."""

    host: str
    directory: str
    manifest: Manifest

    @property
    def dist(self) -> str:
        return self.manifest.dist

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def tar(self) -> str:
        return f"{self.directory}/{self.dist}/{self.version}.tar"

    def to_dict(self) -> dict:
        m = self.manifest
        return {"host": self.host, "dist": m.dist, "version": m.version, "tar": self.tar,
                "created": m.created.isoformat(), "checked": m.checked.isoformat() if m.checked else None,
                "age_days": round(m.age_days(), 2), "size": m.size,
                "sha256": m.sha256, "source": m.source, "packages": len(m.packages)}


def new_version(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def list_images(host, directory: str) -> list[Stored]:
    """Every complete image in DIRECTORY on HOST, oldest first. Raises BadInput for a folder
    another user can write to, or a manifest that is not xenpair's."""
    r = host.run(["sh", "-c", _LIST, "sh", directory])
    if r.returncode != 0:
        raise Failed(f"cannot list the images in {directory} on {host.name}: "
                     f"{r.stderr.strip() or f'exit {r.returncode}'}")
    lines = r.stdout.splitlines()
    if lines[:1] == ["absent"]:
        return []
    out: list[Stored] = []
    it = iter(lines)
    first = True                           # the first T line is images.dir itself, then its parents
    for line in it:
        kind, _, rest = line.partition(" ")
        if kind == "T":
            uid, mode, path = rest.split(" ", 2)
            _trust(host, directory, path, int(uid), int(mode, 8), below=not first)
            first = False
        elif kind == "S":
            uid, mode, what = rest.split(" ", 2)
            if not what.startswith("directory "):
                continue                    # .lock and files of the admin's own
            path = what.removeprefix("directory ").strip()
            _trust(host, directory, path, int(uid), int(mode, 8), below=False)
        elif kind == "M":
            size, path = rest.split(" ", 1)
            text = next(it, "")
            if size == "-":                # being removed, or a manifest without its tar: not an image
                continue
            out.append(Stored(host.name, directory, _manifest(host, path, text, int(size))))
    return sorted(out, key=lambda s: (s.dist, s.version))


def _trust(host, directory: str, path: str, uid: int, mode: int, below: bool) -> None:
    # a folder above images.dir may be writable by others if it is sticky (/var/tmp): they
    # cannot rename or replace root's entries in it
    if uid == 0 and not mode & 0o022:
        return
    if below and uid == 0 and mode & 0o1000:
        return
    raise BadInput(f"refusing the images in {directory} on {host.name}: {path} is "
                   + (f"owned by uid {uid}" if uid else f"writable by other users (mode {mode & 0o7777:o})"),
                   where=f"host {host.name}: {path}",
                   hint="xenpair runs as root and installs guests from these files: make the folder root's "
                        "and not writable by others (chown root: ; chmod go-w), or set images.dir")


def _manifest(host, path: str, text: str, size: int) -> Manifest:
    where = f"host {host.name}: {path}"
    try:
        m = Manifest.model_validate_json(text)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "(file)"
        raise BadInput(f"invalid image manifest: {loc}: {first['msg']}", where=where,
                       hint="it was not written by xenpair or was damaged: remove the image "
                            "(xenpair image remove DIST VERSION) and build or refresh a new one") from None
    if not path.endswith(f"/{m.dist}/{m.version}.json"):
        raise BadInput(f"image manifest names {m.dist} {m.version}, but its file is {path}", where=where,
                       hint="manifests are not renamed by hand: remove it and build a new image")
    if size != m.size:
        raise BadInput(f"image {m.dist} {m.version} on {host.name} is {size} bytes, its manifest says {m.size}",
                       where=where.removesuffix(".json") + ".tar",
                       hint=f"the file was changed or cut short: xenpair image remove {m.dist} {m.version}, "
                            "then xenpair image refresh (or build)")
    return m


def verify(host, image: Stored) -> None:
    """Raise BadInput unless the tar's sha256 is the manifest's (a damaged or replaced image)."""
    r = host.run(["sh", "-c", _SHA256 + 'sha256 "$1"', "sh", image.tar])
    got = r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None
    if got == image.manifest.sha256:
        return
    m = image.manifest
    raise BadInput(f"image {m.dist} {m.version} on {host.name} does not match its manifest: sha256 "
                   + (f"{got}, expected {m.sha256}" if got else f"failed ({r.stderr.strip()[:200]})"),
                   where=f"host {host.name}: {image.tar}",
                   hint=f"the file was damaged or replaced: xenpair image remove {m.dist} {m.version}, then "
                        "xenpair image refresh (or build) — nothing was reserved or built")


def receive(host, directory: str, manifest: Manifest, tar) -> None:
    """Copy an image to HOST (TAR an open binary file): checked against the manifest's sha256 there,
    then renamed into place; a failed or interrupted copy leaves nothing."""
    r = host.run(["sh", "-c", _RECEIVE, "sh", directory, manifest.dist, manifest.version, manifest.sha256,
                  manifest.line()], input=tar)
    if r.returncode != 0:
        raise Failed(f"copying image {manifest.dist} {manifest.version} to {host.name} failed: "
                     f"{r.stderr.strip() or f'exit {r.returncode}'}", where=f"host {host.name}: {directory}",
                     hint="another xenpair image command is running there: wait for it" if r.returncode == BUSY
                     else "check the free space in images.dir there, and the SSH connection")


def remove(host, directory: str, images: list[tuple[str, str]]) -> None:
    """Remove (dist, version) images from HOST under the lock."""
    for dist, version in images:
        if not (DIST.match(dist) and VERSION.match(version)):
            raise BadInput(f"not an image: {dist} {version}", hint="see xenpair image list")
    r = host.run(["sh", "-c", _REMOVE, "sh", directory, *(f"{d}/{v}" for d, v in images)])
    if r.returncode != 0:
        raise Failed(f"cannot remove images from {directory} on {host.name}: "
                     f"{r.stderr.strip() or f'exit {r.returncode}'}",
                     hint="another xenpair image command is running there: wait for it"
                     if r.returncode == BUSY else None)
