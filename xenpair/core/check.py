"""Preflight for a site: is everything in place for `xenpair create` to work?"""

from __future__ import annotations

import os
from dataclasses import dataclass

from xenpair.adapters import toolstack, yamlcache
from xenpair.core import roles
from xenpair.core.build import KINDS
from xenpair.core.site import Site, open_site
from xenpair.errors import Failed, XenpairError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False        # ok for building pairs, but something will not work

    def to_dict(self) -> dict:
        return {"check": self.name, "ok": self.ok, "warning": self.warning, "detail": self.detail}


def run_checks(config_arg: str | None) -> list[Check]:
    """Every check, in order; a failing one does not stop those that do not depend on it."""
    checks: list[Check] = []
    try:
        site = open_site(config_arg)
    except XenpairError as e:
        return [Check("config", False, str(e))]
    checks.append(Check("config", True, str(site.config_path or "built-in defaults")))
    why = yamlcache.problem()
    checks.append(Check("config cache", True, f"ignored: {why}; remove it (xenpair re-creates it safely)"
                        if why else f"{yamlcache.cache_dir()} (parsed config files; safe to delete)",
                        warning=why is not None))
    checks.append(_attempt("packages", lambda: f"{len(site.tiers)} tiers: {', '.join(site.tiers)}"))
    checks += _registry(site)
    if site.config.backend == "ganeti":         # the nodes are Ganeti's: ask the cluster
        from xenpair.core import ganeti

        checks += ganeti.checks(site)
        site.close()
        return checks
    seen: set[tuple[str, str]] = set()
    for kind in KINDS:
        checks += _dom0(site, kind, seen)
    checks += _images(site)
    site.close()
    return checks


def _attempt(name: str, probe) -> Check:
    try:
        return Check(name, True, probe())
    except XenpairError as e:
        return Check(name, False, str(e))


def _registry(site: Site) -> list[Check]:
    try:
        snap = site.registry.read()
    except XenpairError as e:
        return [Check("registry", False, str(e))]
    pairs = snap.pairs()
    out = [Check("registry", True, f"{len(pairs)} pair{'' if len(pairs) == 1 else 's'} in "
                                   f"{site.config.registry.hosting} and "
                                   f"{site.config.registry.backup}")]
    odd = []
    for p in pairs:
        if p.hosting is None or p.backup is None:
            odd.append(f"{p.name} (address number {p.n}): only a {'backup' if p.hosting is None else 'hosting'} row")
        elif p.hosting.name.split(".")[0] != p.backup.name.split(".")[0]:
            odd.append(f"address number {p.n} is {p.hosting.name} in one file and {p.backup.name} in the other")
    out.append(Check("registry consistent", not odd,
                     "same N on both sides, no duplicates" if not odd else "; ".join(odd)))
    incomplete = [f"{p.name} ({p.state})" for p in pairs
                  if p.hosting and p.backup and p.state != "created" and p.hosting.state != "destroyed"]
    out.append(Check("pairs complete", not incomplete,
                     "all created" if not incomplete else
                     ", ".join(incomplete) + " — finish each with 'xenpair repair NAME'"))
    return out


def _dom0(site: Site, kind: str, seen: set[tuple[str, str]]) -> list[Check]:
    x = site.config.xci(kind)
    try:
        host = site.hosts[kind]
    except XenpairError as e:
        return [Check(f"{kind} dom0", False, str(e))]
    label = f"{kind} dom0 ({host.name})"
    out = []
    if host.remote:
        out.append(_attempt(f"{label} ssh", lambda: f"logged in; host key {host.server_key()} is in "
                                                    f"{host.known_hosts}"))
        if not out[-1].ok:
            return out
    key = (host.name, x.model_dump_json())
    if key in seen:                        # same host, same settings: checked already
        return [Check(label, True, "same dom0 and settings as the hosting side, checked above")]
    seen.add(key)
    root = host.run(["id", "-u"]).stdout.strip() == "0" if host.remote else os.geteuid() == 0
    out.append(Check(f"{label} root", root, "running as root" if root else "xen-create-image needs root"))
    version = host.run([x.command, "--version"]) if host.which(x.command) else None
    out.append(Check(f"{label} xen-create-image", bool(version and version.returncode == 0),
                     version.stdout.strip() if version and version.returncode == 0 else
                     f"{x.command} not found: apt-get install --no-install-recommends xen-tools"))
    if x.storage.dir:
        ok = host.run(["test", "-d", x.storage.dir]).returncode == 0
        out.append(Check(f"{label} storage", ok, f"dir {x.storage.dir}" + ("" if ok else " does not exist")))
    else:
        vg = host.run(["vgs", "--noheadings", "-o", "vg_name,vg_free", x.storage.lvm]) if host.which("vgs") \
            else None
        ok = bool(vg and vg.returncode == 0)
        out.append(Check(f"{label} storage", ok, f"LVM volume group {x.storage.lvm}"
                         + (f" ({' '.join(vg.stdout.split()[1:])} free)" if ok else " not found (vgs)")))
    ok = host.run(["test", "-d", x.cfg_dir]).returncode == 0
    out.append(Check(f"{label} cfg_dir", ok, x.cfg_dir + ("" if ok else " does not exist")))
    ts = site.config.toolstack
    path, problem = toolstack.find(host, ts)
    # builds need no toolstack (xen-create-image does not start guests): a warning, not a failure
    out.append(Check(f"{label} toolstack", True,
                     f"{path} (start, stop, --start)" if problem is None else
                     f"{problem}; start, stop and --start will not work there", warning=problem is not None))
    out.append(_attempt(f"{label} roles", lambda: _roles(site, host)))
    kh = site.config.ready.known_hosts
    if kh:
        problem = _known_hosts_unread(host, kh)
        out.append(Check(f"{label} known_hosts", True, problem or f"{kh}: OpenSSH reads it there (verified keys "
                         "of ready machines go into it)", warning=problem is not None))
    return out


def _known_hosts_unread(host, path: str) -> str | None:
    """Why the ssh client on HOST would not read PATH (ready.known_hosts), or None."""
    if host.which("ssh") is None:
        return f"no ssh client there: {path} is written, but nothing reads it"
    r = host.run(["ssh", "-G", "xenpair-check.invalid"])
    files = [f for line in r.stdout.splitlines() if line.split(" ", 1)[0] in ("globalknownhostsfile",
                                                                             "userknownhostsfile")
             for f in line.split()[1:]]
    if r.returncode != 0 or path in files:
        return None if r.returncode == 0 else f"'ssh -G' failed there: {r.stderr.strip()[:200]}"
    return (f"{path}: OpenSSH there does not read it (its known_hosts files: {' '.join(files) or 'none'}); "
            "add it to GlobalKnownHostsFile in /etc/ssh/ssh_config.d/, or set ready.known_hosts to one of those")


def _roles(site: Site, host) -> str:
    """Stale or non-executable role files fail (xen-create-image would run old ones, or skip them
    silently); missing ones do not: create copies them before it builds."""
    d = site.config.roles_dir
    state = roles.status(host, d)
    bad = {f: s for f, s in state.items() if s in ("stale", "mode")}
    if bad:
        raise Failed(f"{d}: " + ", ".join(f"{f} {'differs from this xenpair' if s == 'stale' else 'is not 0755'}"
                                           for f, s in bad.items()) + " — run 'xenpair roles sync'")
    missing = [f for f, s in state.items() if s == "missing"]
    if missing:
        return (f"{d}: not there yet ({', '.join(missing)}); 'xenpair roles sync' copies them "
                "(create does too, when a machine gets roles)")
    return f"{d}: all {len(state)} role files current"


def _images(site: Site) -> list[Check]:
    """Per dom0: the newest image of its dist, its age, its checksum; then: the same on both?"""
    from xenpair.adapters import image_store
    from xenpair.core.image_choice import REFRESH, own_install_method
    from xenpair.core.images import list_all

    img = site.config.images
    try:
        listed = list_all(site)
    except XenpairError as e:
        return [Check("images", False, str(e))]
    kinds = KINDS if site.hosts["backup"] is not site.hosts["hosting"] else ("hosting",)
    out, newest = [], {}
    for kind in kinds:
        host, dist = site.hosts[kind], site.config.xci(kind).dist
        label = f"{kind} dom0 ({host.name}) images"
        own = own_install_method(site, kind)
        if own:
            out.append(Check(label, True, f"not used: xen_create_image.extra_args set the install method ({own})"))
            continue
        mine = [s for s in listed[kind] if s.dist == dist]
        if not mine:
            out.append(Check(label, not img.required, f"no image of {dist} in {img.dir}: builds run debootstrap "
                             f"(minutes); make one: xenpair image build {dist}", warning=True))
            continue
        newest[kind] = image = mine[-1]
        try:
            image_store.verify(host, image)
        except XenpairError as e:
            out.append(Check(label, False, str(e)))
            continue
        age = image.manifest.age_days()
        stale = age > img.max_age_days
        out.append(Check(label, not (stale and img.required),
                         f"{dist} {image.version}, {age:.1f} days old, sha256 matches its manifest"
                         + (f"; older than images.max_age_days {img.max_age_days:g}: {REFRESH}" if stale else ""),
                         warning=stale))
    if len(newest) == 2 and site.config.xci("hosting").dist == site.config.xci("backup").dist:
        h, b = newest["hosting"], newest["backup"]
        same = (h.version, h.manifest.sha256) == (b.version, b.manifest.sha256)
        out.append(Check("images on both dom0s", same or not img.required,
                         f"both hold {h.dist} {h.version}" if same else
                         f"newest {h.dist}: {h.version} on the hosting dom0, {b.version} on the backup dom0; builds "
                         f"use the newest both hold; {REFRESH} (it copies to both)", warning=not same))
    return out
