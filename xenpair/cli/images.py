"""xenpair image build | refresh | list | remove"""

import sys
from typing import Annotated

import typer

image_app = typer.Typer(help="Golden images: a pair in seconds instead of minutes of debootstrap.",
                        no_args_is_help=True)

DryRun = Annotated[bool, typer.Option("--dry-run", help="Show the plan and change nothing.")]
Json = Annotated[bool, typer.Option("--json", help="Print the plan or result as JSON on stdout.")]
Dist = Annotated[str | None, typer.Argument(metavar="DIST", help="Default: xen_create_image.dist of the config.")]


def _open(ctx: typer.Context):
    from xenpair.core.site import open_site

    site = open_site(ctx.obj["config"])
    ctx.call_on_close(site.close)
    return site


def _run(plan, dry_run: bool, json_out: bool) -> None:
    from xenpair.cli import render
    from xenpair.core.plan import apply

    if dry_run:
        render.plan(plan.to_dict(), json_out)
        return
    _show(apply(plan).to_dict(), json_out)


def _say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


@image_app.command("build")
def build(
    ctx: typer.Context,
    dist: Dist = None,
    host: Annotated[str, typer.Option("--host", metavar="hosting|backup|both",
                                      help="The dom0s that get the image.")] = "both",
    mirror: Annotated[str | None, typer.Option("--mirror", metavar="URL",
                                               help="Default: images.mirror, else this host's apt mirror.")] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Make a new golden image of DIST and store it on both dom0s.

    debootstrap on this dom0 with what a guest needs (kernel, openssh-server, what xen-tools'
    hooks install), host keys and machine-id removed; a tar with a manifest (packages, sha256) in
    images.dir; the same file is copied to the backup dom0 over SSH and checked there."""
    from xenpair.core.images import plan_build

    if mirror is not None:
        from xenpair.config_images import check_url

        try:
            mirror = check_url(mirror)
        except ValueError as e:
            from xenpair.errors import BadInput

            raise BadInput(f"--mirror: {e}") from None
    site = _open(ctx)
    _run(plan_build(site, dist, host, mirror, progress=_say), dry_run, json_out)


@image_app.command("refresh")
def refresh(ctx: typer.Context, dist: Dist = None, dry_run: DryRun = False, json_out: Json = False) -> None:
    """Upgrade DIST's newest image into a new version (security updates).

    apt-get update and upgrade run in it; nothing is replaced until the new version is complete;
    images.keep older versions stay. Nothing to upgrade: no new version, the image counts as
    current again."""
    from xenpair.core.images import plan_refresh

    site = _open(ctx)
    _run(plan_refresh(site, dist, progress=_say), dry_run, json_out)


@image_app.command("list")
def list_cmd(ctx: typer.Context, json_out: Annotated[bool, typer.Option(
        "--json", help="Print the images as JSON.")] = False) -> None:
    """List the images on each dom0: version, age, size, sha256, on both dom0s or not."""
    from xenpair.core.images import list_all, same_on_both

    site = _open(ctx)
    images = list_all(site)
    hosts = {kind: site.hosts[kind].name for kind in images}
    rows = [{**s.to_dict(), "kind": kind, "on_both": same_on_both(images, s)}
            for kind, stored in images.items() for s in stored
            if kind == "hosting" or hosts["backup"] != hosts["hosting"]]
    if json_out:
        from xenpair.cli.render import _json

        _json(rows)
        return
    if not rows:
        print(f"no images in {site.config.images.dir} (make one: xenpair image build)")
        return
    print(f"{'HOST':<22} {'DIST':<10} {'VERSION':<17} {'AGE':>7} {'SIZE':>8} {'SHA256':<13} BOTH DOM0S")
    for r in rows:
        print(f"{r['host'][:22]:<22} {r['dist']:<10} {r['version']:<17} {r['age_days']:>6.1f}d "
              f"{r['size'] / 2**20:>6.0f}Mi {r['sha256'][:12]:<13} {'yes' if r['on_both'] else 'no'}")


@image_app.command("remove")
def remove(
    ctx: typer.Context,
    dist: Annotated[str, typer.Argument(metavar="DIST", help="e.g. bookworm")],
    version: Annotated[str, typer.Argument(metavar="VERSION", help="as image list shows it")],
    host: Annotated[str, typer.Option("--host", metavar="hosting|backup|both",
                                      help="The dom0s to remove it from.")] = "both",
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Remove one version of an image (a build running from it at that moment fails)."""
    from xenpair.core.images import plan_remove

    site = _open(ctx)
    _run(plan_remove(site, dist, version, host), dry_run, json_out)


def _show(r: dict, json_out: bool) -> None:
    if json_out:
        from xenpair.cli.render import _json

        _json(r)
        return
    if r["action"] == "remove":
        print(f"removed {r['dist']} {r['version']} from {', '.join(r['removed'])}")
        return
    if r["current"]:
        print(f"{r['dist']} {r['version']} is current: nothing to upgrade, no new version (counted as "
              f"refreshed now; log {r['log']})")
        return
    took = ", ".join(f"{k} {v:g} s" for k, v in r["seconds"].items())
    print(f"image {r['dist']} {r['version']}: {r['size'] / 2**20:.0f} MiB, {r['packages']} packages, "
          f"sha256 {r['sha256']}")
    for host, path in r["stored"].items():
        print(f"  on {host}: {path}")
    for host, old in r["removed"].items():
        if old:
            print(f"  removed from {host}: {', '.join(old)} (images.keep)")
    if r["changed"]:
        print(f"  upgraded {len(r['changed'])} package(s): " + ", ".join(
            f"{p} {old or '-'} -> {new or '-'}" for p, (old, new) in list(r["changed"].items())[:20])
            + (" ..." if len(r["changed"]) > 20 else ""))
    print(f"  took {took}; log {r['log']}")
