"""xenpair destroy NAME"""

from typing import Annotated

import typer

from xenpair.cli.complete import pair_names


def destroy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name of the pair to remove.", show_default=False,
                                              autocompletion=pair_names)],
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask to type the name (needed without a terminal).")] = False,
    keep_backup: Annotated[bool, typer.Option(
        "--keep-backup",
        help="Keep the backup machine (and the customer's backups); mark the pair hosting-destroyed.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print exactly what would be deleted, on which host; change nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the plan or result as JSON on stdout.")] = False,
) -> None:
    """Remove a pair: its guests (xen-delete-image), their cfg files, then its registry rows."""
    from xenpair.cli import render
    from xenpair.core.destroy import plan_destroy
    from xenpair.core.plan import apply
    from xenpair.core.site import open_site

    site = open_site(ctx.obj["config"])
    ctx.call_on_close(site.close)
    plan = plan_destroy(site, name, keep_backup)
    if dry_run:
        render.plan(plan.to_dict(), json_out)
        return
    if not yes:
        from xenpair.cli import prompts

        prompts.require_terminal("for the name to confirm", "--yes to destroy unattended (or --dry-run)")
        prompts.type_to_confirm(name, render.destroy_warning(plan.to_dict()))
    render.destroyed(apply(plan).to_dict(), json_out)
