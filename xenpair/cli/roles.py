"""xenpair roles sync"""

from typing import Annotated

import typer

roles_app = typer.Typer(help="The role scripts xenpair keeps on both dom0s.", no_args_is_help=True)


@roles_app.command("sync")
def sync(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what differs and change nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the plan or result as JSON on stdout.")] = False,
) -> None:
    """Copy the shipped role scripts to roles_dir on the hosting and the backup dom0 (changed files only,
    checked by SHA-256; mode 0755). `create` does this by itself before it builds."""
    from xenpair.cli import render
    from xenpair.core.plan import apply
    from xenpair.core.roles import plan_sync
    from xenpair.core.site import open_site

    site = open_site(ctx.obj["config"])
    ctx.call_on_close(site.close)
    plan = plan_sync(site)
    if dry_run:
        render.plan(plan.to_dict(), json_out)
        return
    render.roles_synced(apply(plan).to_dict(), json_out)
