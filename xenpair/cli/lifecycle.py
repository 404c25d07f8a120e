"""xenpair ip set|remove, xenpair start, xenpair stop"""

from typing import Annotated

import typer

from xenpair.cli.complete import pair_names

ip_app = typer.Typer(help="Change the external IP of an existing pair's hosting machine.", no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="Short name of the pair.", show_default=False,
                                        autocompletion=pair_names)]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the cfg diff and change nothing.")]
Json = Annotated[bool, typer.Option("--json", help="Print the plan or result as JSON on stdout.")]


def _ip(ctx: typer.Context, name: str, new_ip, dry_run: bool, json_out: bool) -> None:
    from xenpair.cli import render
    from xenpair.core.lifecycle import plan_ip
    from xenpair.core.plan import apply
    from xenpair.core.site import open_site

    site = open_site(ctx.obj["config"])
    plan = plan_ip(site, name, new_ip)
    if dry_run:
        render.plan(plan.to_dict(), json_out)
        return
    render.ip_result(apply(plan).to_dict(), json_out)


@ip_app.command("set")
def ip_set(ctx: typer.Context, name: NameArg,
           external_ip: Annotated[str, typer.Argument(help="The new public IPv4 address.", show_default=False)],
           dry_run: DryRun = False, json_out: Json = False) -> None:
    """Give the hosting machine EXTERNAL_IP on its own vif (cfg and registry)."""
    _ip(ctx, name, external_ip, dry_run, json_out)


@ip_app.command("remove")
def ip_remove(ctx: typer.Context, name: NameArg, dry_run: DryRun = False, json_out: Json = False) -> None:
    """Take the external IP away from the hosting machine (cfg and registry)."""
    _ip(ctx, name, None, dry_run, json_out)


def _power(ctx: typer.Context, name: str, action: str, json_out: bool) -> None:
    from xenpair.cli import render
    from xenpair.core.lifecycle import power
    from xenpair.core.site import open_site

    site = open_site(ctx.obj["config"])
    ctx.call_on_close(site.close)
    outcome = power(site, name, action)
    render.power(name, action, outcome, json_out)
    if any(outcome.values()):
        raise typer.Exit(1)


def start(ctx: typer.Context, name: NameArg, json_out: Json = False,
          wait: Annotated[bool, typer.Option(
              "--wait", help="--wait or --wait=SECONDS: then wait until both answer SSH with the host keys of their "
                             "install summaries, as 'xenpair wait' does (default limit: ready.timeout).")] = False,
          wait_seconds: Annotated[str | None, typer.Option(
              "--wait-seconds", hidden=True, help="What --wait=SECONDS passes on.")] = None) -> None:
    """Start both machines of a pair with the toolstack (xl create), each on its own host."""
    from xenpair.cli.create import wait_limit_of

    limit = wait_limit_of(wait or wait_seconds is not None, wait_seconds, True)
    if limit is None:
        _power(ctx, name, "start", json_out)
        return
    from xenpair.core.lifecycle import power

    site = _open(ctx)
    outcome = power(site, name, "start")
    if not json_out:
        from xenpair.cli import render

        render.power(name, "start", outcome, json_out)
    ready = _wait_and_show(site, name, limit or None, json_out, kinds=[k for k, p in outcome.items() if p is None],
                           extra={"started": outcome} if json_out else {})
    if any(outcome.values()) or not ready:
        raise typer.Exit(1)


def stop(ctx: typer.Context, name: NameArg, json_out: Json = False) -> None:
    """Shut down both machines of a pair (xl shutdown -w), each on its own host."""
    _power(ctx, name, "stop", json_out)


def wait(ctx: typer.Context, name: NameArg,
         timeout: Annotated[float | None, typer.Option(
             "--timeout", metavar="SECONDS", min=1, max=86400,
             help="How long to wait in all. Default: ready.timeout in the config (300 s).")] = None,
         json_out: Json = False) -> None:
    """Wait until both machines answer SSH with the host keys of their install summaries.

    Each machine is reached from the dom0 that runs it (the backup machine through the SSH
    connection to the backup dom0). A different key is a failure, never a warning; the verified
    keys are written to ready.known_hosts on each dom0. Exit 0 only when both are ready."""
    if not _wait_and_show(_open(ctx), name, timeout, json_out):
        raise typer.Exit(1)


def _open(ctx: typer.Context):
    from xenpair.core.site import open_site

    site = open_site(ctx.obj["config"])
    ctx.call_on_close(site.close)
    return site


def _wait_and_show(site, name: str, timeout: float | None, json_out: bool, kinds: list[str] | None = None,
                   extra: dict | None = None) -> bool:
    """`wait` and `start --wait`: wait for the pair's machines (or KINDS), show the outcome; True if all ready."""
    from xenpair.cli import progress, render
    from xenpair.core.plan import apply
    from xenpair.core.ready import plan_wait

    shown = progress.for_output(json_out)
    plan = plan_wait(site, name, timeout, shown, kinds=kinds)
    with shown:
        result = apply(plan)
    render.wait_result({**(extra or {}), **result.to_dict()}, json_out)
    return result.ok
