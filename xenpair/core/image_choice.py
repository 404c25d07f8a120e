"""Which golden image a build installs from (create, --overwrite, repair), checked before anything
is reserved or built."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from xenpair.adapters import image_store
from xenpair.adapters.image_store import Stored
from xenpair.adapters.xen_create_image import resolve_option
from xenpair.core.site import Site
from xenpair.errors import BadInput

REFRESH = "refresh it: xenpair image refresh"


@dataclass
class Choice:
    kind: str
    dist: str
    image: Stored | None
    how: str                        # what the plan says about the install
    warning: str | None = None

    def argv(self) -> tuple[str, ...]:
        return ("--install-method=tar", f"--install-source={self.image.tar}") if self.image else ()

    def to_dict(self) -> dict:
        return {"dist": self.dist, "install": self.how, "warning": self.warning,
                "image": self.image.to_dict() if self.image else None}


def own_install_method(site: Site, kind: str) -> str | None:
    """The extra_args item that sets the install method itself, if any (then images are not used)."""
    for arg in site.config.xci(kind).extra_args:
        if resolve_option(arg[2:].partition("=")[0])[0] in ("install-method", "install-source"):
            return arg
    return None


def choose(site: Site, kinds: list[str]) -> dict[str, Choice]:
    """For each kind: the newest image of its dist that every dom0 building that dist holds (same
    version, same sha256), verified against its manifest on each of them; or none, said why."""
    img = site.config.images
    stores: dict[int, list[Stored]] = {}

    def held(kind: str) -> list[Stored]:
        host = site.hosts[kind]
        if id(host) not in stores:
            stores[id(host)] = image_store.list_images(host, img.dir)
        return [s for s in stores[id(host)] if s.dist == site.config.xci(kind).dist]

    out: dict[str, Choice] = {}
    for kind in kinds:
        dist = site.config.xci(kind).dist
        own = own_install_method(site, kind)
        if own:
            out[kind] = Choice(kind, dist, None, f"as xen_create_image.extra_args say ({own}); images not used")
            continue
        peers = [k for k in kinds if site.config.xci(k).dist == dist and not own_install_method(site, k)]
        common = {(s.version, s.manifest.sha256) for s in held(kind)}
        for k in peers:
            common &= {(s.version, s.manifest.sha256) for s in held(k)}
        newest = max(common, default=None)
        where = " and ".join(dict.fromkeys(site.hosts[k].name for k in peers))
        if newest is None:
            hosts = {site.hosts[k].name: held(k) for k in peers}
            what = f"no image of {dist} in {img.dir} on {where}"
            if any(hosts.values()):             # one dom0 has images, the other not the same one
                what = (f"no image of {dist} that both {where} hold ("
                        + "; ".join(f"{h}: {', '.join(s.version for s in v) or 'none'}" for h, v in hosts.items())
                        + ")")
            if img.required:
                raise BadInput(f"{what} (images.required is true)",
                               hint=f"make one: xenpair image build {dist} (it goes to both dom0s)")
            out[kind] = Choice(kind, dist, None, f"{what}: xen-create-image's own install method "
                                                 f"(debootstrap from the mirror; make one: xenpair image build {dist})")
            continue
        image = next(s for s in held(kind) if (s.version, s.manifest.sha256) == newest)
        age = image.manifest.age_days()
        warning = None
        if age > img.max_age_days:
            warning = (f"image {dist} {image.version} is {age:.1f} days old (images.max_age_days "
                       f"{img.max_age_days:g}): {REFRESH}")
            if img.required:
                raise BadInput(f"{warning.partition(':')[0]} (images.required is true)", hint=REFRESH)
        newer = [s.version for k in peers for s in held(k) if s.version > image.version]
        if newer and warning is None:
            warning = (f"a newer image {dist} {max(newer)} is not on every dom0 that builds {dist}: "
                       f"using {image.version}; {REFRESH} (it copies to both)")
        out[kind] = Choice(kind, dist, image, f"image {dist} {image.version} ({age:.1f} days old, sha256 "
                                              f"{image.manifest.sha256[:12]}…)", warning)
    _verify(site, out)
    return out


def _verify(site: Site, choices: dict[str, Choice]) -> None:
    """sha256 of each chosen image on each dom0, at the same time (~2 s for 1 GB)."""
    jobs = {(id(site.hosts[k]), c.image.tar): (site.hosts[k], c.image) for k, c in choices.items() if c.image}
    if not jobs:
        return
    with ThreadPoolExecutor(len(jobs)) as pool:
        for f in [pool.submit(image_store.verify, host, image) for host, image in jobs.values()]:
            f.result()
