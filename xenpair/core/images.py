"""Golden images: build, refresh, list, remove — and which one a build installs from.

A build or refresh makes the image on this dom0 (the hosting one, where xenpair runs) and copies
the very same file to the backup dom0 over the SSH connection, checked by sha256 there: both
dom0s hold identical images, and one debootstrap is paid instead of two.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from xenpair.adapters import apt_sources, debootstrap, files, image_store
from xenpair.adapters.image_store import DIST, Manifest, Stored
from xenpair.adapters.runlog import RunLog
from xenpair.core.build import KINDS
from xenpair.core.plan import Plan
from xenpair.core.site import Site
from xenpair.errors import BadInput, Failed

HOSTS = ("hosting", "backup", "both")


@dataclass
class ImageResult:
    action: str                      # build | refresh | remove
    dist: str
    version: str | None = None
    source: str | None = None
    size: int = 0
    sha256: str | None = None
    packages: int = 0
    changed: dict[str, list[str | None]] = field(default_factory=dict)   # refresh: name -> [old, new]
    stored: dict[str, str] = field(default_factory=dict)                 # host -> tar path
    removed: dict[str, list[str]] = field(default_factory=dict)          # host -> versions
    seconds: dict[str, float] = field(default_factory=dict)              # phase -> seconds
    log: str | None = None
    current: bool = False            # refresh: nothing to upgrade, no new version

    def to_dict(self) -> dict:
        return {"action": self.action, "dist": self.dist, "version": self.version, "source": self.source,
                "size": self.size, "sha256": self.sha256, "packages": self.packages, "changed": self.changed,
                "stored": self.stored, "removed": self.removed, "current": self.current,
                "seconds": {k: round(v, 1) for k, v in self.seconds.items()}, "log": self.log}


def _targets(site: Site, which: str) -> list:
    """The distinct dom0s of --host (a local backup dom0 is this host: one store)."""
    if which not in HOSTS:
        raise BadInput(f"--host {which!r}: use hosting, backup or both")
    kinds = KINDS if which == "both" else (which,)
    out = []
    for kind in kinds:
        if site.hosts[kind] not in out:
            out.append(site.hosts[kind])
    return out


def _check_dist(dist: str) -> str:
    if not DIST.match(dist):
        raise BadInput(f"{dist!r} is not a distribution name (lowercase, e.g. bookworm)")
    return dist


def _check_builder(site: Site) -> None:
    if os.geteuid() != 0:
        raise Failed("image build and refresh must run as root (debootstrap, chroot, mounts)",
                     hint="run xenpair as root (sudo xenpair ...)")
    for tool in ("debootstrap", "unshare", "tar", "dpkg-query"):
        if shutil.which(tool) is None:
            raise Failed(f"{tool} not found on this host",
                         hint="apt-get install --no-install-recommends debootstrap util-linux tar")


@contextmanager
def _locked(directory: str):
    """The writers' lock of images.dir on this host; refuses at once when another writer holds it."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(directory, ".lock"), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Failed(f"another xenpair image build, refresh or copy is running on this host "
                         f"(it holds {directory}/.lock)", hint="wait for it to finish, then run this again") from None
        # what a killed build (SIGKILL, power loss) left: nobody else writes while we hold the lock
        for name in os.listdir(directory):
            if name.startswith(".build-"):
                shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
        yield
    finally:
        os.close(fd)


def _mirror(site: Site, dist: str, given: str | None) -> tuple[str, str | None]:
    img = site.config.images
    mirror = given or img.mirror or apt_sources.mirror_for(dist)
    if not mirror:
        raise BadInput(f"no Debian mirror for {dist}: this host's apt has no 'deb' source for {dist} main",
                       where="/etc/apt/sources.list*", hint="set images.mirror in the config (or --mirror URL)")
    security = img.security_mirror or apt_sources.mirror_for(f"{dist}-security")
    return mirror, security


class _Work:
    """A build's folder inside images.dir (same file system: the finished tar is renamed into place)."""

    def __init__(self, site: Site, dist: str, action: str):
        self.site, self.dist, self.action = site, dist, action
        self.dir = site.config.images.dir
        self.result = ImageResult(action, dist)

    def run(self, make, targets: list) -> ImageResult:
        """MAKE(work, root, log) fills the root and returns (source text, sources_list) or None when
        there is nothing new; the rest (tar, manifest, publish, copy, prune) is the same for both."""
        host = self.site.hosts["hosting"]
        log = RunLog(self.site.config.log_dir, f"image-{self.action}-{self.dist}")
        self.result.log = log.path
        with _locked(self.dir):
            work = tempfile.mkdtemp(prefix=".build-", dir=self.dir)
            try:
                made = make(work, os.path.join(work, "root"), log)
                if made is not None:
                    self._publish(host, work, *made, targets)
            except BaseException:
                self.site.terminate_all()          # debootstrap, apt, tar: their whole process groups
                raise
            finally:
                shutil.rmtree(work, ignore_errors=True)
                log.close()
        return self.result

    def _publish(self, host, work: str, source: str, sources: str, targets: list) -> None:
        r, root = self.result, os.path.join(work, "root")
        t = time.monotonic()
        tar = os.path.join(work, "image.tar")
        size, sha = debootstrap.pack(host, root, tar)
        r.seconds["pack"] = time.monotonic() - t
        pkgs = debootstrap.packages(root)
        version = image_store.new_version()
        while os.path.exists(os.path.join(self.dir, self.dist, f"{version}.json")):
            time.sleep(1)
            version = image_store.new_version()
        m = Manifest(dist=self.dist, version=version, created=datetime.now(UTC), source=source,
                     arch=debootstrap.arch(), size=size, sha256=sha, sources_list=sources, packages=pkgs)
        r.version, r.size, r.sha256, r.packages, r.source = version, size, sha, len(pkgs), source
        for target in targets:
            t = time.monotonic()
            if target is host:
                os.makedirs(os.path.join(self.dir, self.dist), mode=0o700, exist_ok=True)
                final = os.path.join(self.dir, self.dist, version)
                os.replace(tar, final + ".tar")
                tar = final + ".tar"
                files.write(host, final + ".json", m.line() + "\n", mode="0644")
            else:
                with open(tar, "rb") as f:
                    image_store.receive(target, self.dir, m, f)
            r.stored[target.name] = f"{self.dir}/{self.dist}/{version}.tar"
            r.seconds[f"store {target.name}"] = time.monotonic() - t
        for target in targets:
            r.removed[target.name] = _prune(target, target is host, self.dir, self.dist,
                                            self.site.config.images.keep)


def _prune(host, locked: bool, directory: str, dist: str, keep: int) -> list[str]:
    """Remove all but the newest and KEEP older versions of DIST. LOCKED: this process holds that
    store's lock already (this host), so it removes them itself; elsewhere the remove script locks."""
    versions = [s.version for s in image_store.list_images(host, directory) if s.dist == dist]
    old = versions[: max(0, len(versions) - 1 - keep)]
    if old and locked:
        for v in old:
            for suffix in (".json", ".tar"):       # the manifest first: then no reader takes the tar
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, dist, v + suffix))
    elif old:
        image_store.remove(host, directory, [(dist, v) for v in old])
    return old


def _logger(log: RunLog, progress):
    def on_line(stream: str, line: str) -> None:
        log.write("image", stream, line)
        if line.startswith("xenpair: "):
            progress(line.removeprefix("xenpair: "))
    return on_line


def _made(result: ImageResult, step: str, r, log: RunLog) -> None:
    result.seconds[step] = r.elapsed
    if r.returncode != 0 or r.timed_out:
        tail = "\n".join("  " + line for line in (r.stdout + r.stderr).splitlines()[-15:])
        raise Failed(f"{step} failed (exit {r.returncode}{', timed out' if r.timed_out else ''}); nothing "
                     "was stored", where=log.path, details=tail,
                     hint="see the log; a mirror that does not answer: set images.mirror / images.apt_proxy")


def plan_build(site: Site, dist: str | None, which: str = "both", mirror: str | None = None,
               progress=lambda line: None) -> Plan:
    dist = _check_dist(dist or site.config.xen_create_image.dist)
    targets = _targets(site, which)
    mirror, security = _mirror(site, dist, mirror)
    _check_builder(site)
    img = site.config.images
    for target in targets:                       # refuses folders others can write to, bad manifests
        image_store.list_images(target, img.dir)
    sources = debootstrap.sources_lists(dist, mirror, security)
    sources_text = f"# /etc/apt/sources.list\n{sources[0]}# {debootstrap.SOURCES_D}\n{sources[1]}"
    plan = Plan(f"build image {dist}", {"dist": dist, "mirror": mirror, "dir": img.dir,
                                        "hosts": [t.name for t in targets]})
    w = _Work(site, dist, "build")

    def make(work, root, log):
        r = debootstrap.make_root(site.hosts["hosting"], root, "build", dist, mirror, sources, img.apt_proxy,
                                  _logger(log, progress), site.config.build_timeout)
        _made(w.result, "debootstrap", r, log)
        return f"debootstrap {mirror}", sources_text

    def build():
        plan.result = w.run(make, targets)

    plan.add(f"debootstrap {dist} from {mirror} on this host in a private mount namespace, with "
             f"{', '.join(debootstrap.INCLUDE)} and a kernel; upgrade; remove host keys and machine-id"
             + _stored_text(targets, img, dist),
             {"sources_list": sources_text.splitlines(), "proxy": img.apt_proxy}, build)
    return plan


def _stored_text(targets: list, img, dist: str) -> str:
    where = ", ".join(f"{t.name}:{img.dir}/{dist}/" for t in targets)
    return (f"; tar it with a manifest (packages, sha256) into {where} (to another dom0 over SSH, checked "
            f"by sha256 there); keep the newest and {img.keep} older version{'s' if img.keep != 1 else ''}")


def plan_refresh(site: Site, dist: str | None, progress=lambda line: None) -> Plan:
    dist = _check_dist(dist or site.config.xen_create_image.dist)
    img = site.config.images
    local = site.hosts["hosting"]
    targets = _targets(site, "both")
    _check_builder(site)
    held = {t.name: [s for s in image_store.list_images(t, img.dir) if s.dist == dist] for t in targets}
    if not held[local.name]:
        raise BadInput(f"no image of {dist} on this host ({img.dir}/{dist}/) to refresh",
                       hint=f"make one: xenpair image build {dist}")
    source = held[local.name][-1]
    image_store.verify(local, source)
    plan = Plan(f"refresh image {dist}", {"dist": dist, "from": source.to_dict(), "dir": img.dir,
                                          "hosts": [t.name for t in targets]})
    w = _Work(site, dist, "refresh")

    def make(work, root, log):
        debootstrap.unpack(local, source.tar, root)
        r = debootstrap.make_root(local, root, "refresh", dist, "-", ("", ""), img.apt_proxy,
                                  _logger(log, progress), site.config.build_timeout)
        _made(w.result, "apt-get upgrade", r, log)
        now = debootstrap.packages(root)
        before = source.manifest.packages
        w.result.changed = {p: [before.get(p), now.get(p)] for p in sorted(set(before) | set(now))
                            if before.get(p) != now.get(p)}
        if not w.result.changed:
            _mark_checked(targets, held, source, img.dir)
            w.result.current, w.result.version = True, source.version
            return None
        return f"refresh of {source.version}", source.manifest.sources_list

    def refresh():
        plan.result = w.run(make, targets)

    plan.add(f"unpack {dist} {source.version} ({source.manifest.age_days():.1f} days old) and run apt-get update "
             "and upgrade --with-new-pkgs in it, in a private mount namespace; nothing to upgrade: no new "
             "version" + _stored_text(targets, img, dist),
             {"sources_list": source.manifest.sources_list.splitlines(), "proxy": img.apt_proxy}, refresh)
    return plan


def _mark_checked(targets: list, held: dict, source: Stored, directory: str) -> None:
    """Nothing to upgrade: the image is current as of now (its age starts again), on every dom0
    that holds this very version."""
    checked = source.manifest.model_copy(update={"checked": datetime.now(UTC)})
    for t in targets:
        if any(s.version == source.version and s.manifest.sha256 == source.manifest.sha256 for s in held[t.name]):
            files.write(t, f"{directory}/{source.dist}/{source.version}.json", checked.line() + "\n", mode="0644")


def plan_remove(site: Site, dist: str, version: str, which: str = "both") -> Plan:
    _check_dist(dist)
    if not image_store.VERSION.match(version):
        raise BadInput(f"{version!r} is not an image version (like 20261202T203512Z)", hint="see xenpair image list")
    img = site.config.images
    holders = [t for t in _targets(site, which)
               if any(s.dist == dist and s.version == version for s in image_store.list_images(t, img.dir))]
    if not holders:
        raise BadInput(f"no image {dist} {version} on {which} dom0{'s' if which == 'both' else ''}",
                       hint="see xenpair image list")
    plan = Plan(f"remove image {dist} {version}", {"dist": dist, "version": version})
    result = ImageResult("remove", dist, version)

    def remove():
        for t in holders:
            image_store.remove(t, img.dir, [(dist, version)])
            result.removed[t.name] = [version]
        plan.result = result

    plan.add(f"remove {dist} {version} from {', '.join(f'{t.name}:{img.dir}/{dist}/' for t in holders)}",
             {"hosts": [t.name for t in holders]}, remove)
    return plan


def list_all(site: Site) -> dict[str, list[Stored]]:
    """kind -> images on that kind's dom0 (both kinds name the same list when the backup dom0 is local)."""
    img = site.config.images
    out: dict[str, list[Stored]] = {}
    for kind in KINDS:
        other = next((k for k in out if site.hosts[k] is site.hosts[kind]), None)
        out[kind] = out[other] if other else image_store.list_images(site.hosts[kind], img.dir)
    return out


def same_on_both(images: dict[str, list[Stored]], image: Stored) -> bool:
    return all(any(s.dist == image.dist and s.version == image.version and s.manifest.sha256 == image.manifest.sha256
                   for s in images[k]) for k in KINDS)
