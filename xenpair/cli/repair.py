"""xenpair repair NAME"""

from typing import Annotated

import typer

from xenpair.cli.complete import pair_names


def repair(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name of the incomplete pair.", show_default=False,
                                              autocompletion=pair_names)],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print what would be rebuilt (argv, what it overwrites) and change nothing.")] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the plan or result as one JSON object on stdout; messages go to stderr.")] = False,
    no_mail: Annotated[bool, typer.Option("--no-mail", help="Do not mail the rebuilt machines' summaries.")] = False,
) -> None:
    """Finish an incomplete pair: rebuild only its missing or failed machine(s), with the reserved addresses."""
    from xenpair.cli import progress, render
    from xenpair.core.plan import apply
    from xenpair.core.repair import plan_repair
    from xenpair.core.site import open_site

    site = open_site(ctx.obj["config"])
    ctx.call_on_close(site.close)        # the SSH connection to the backup dom0, if any
    shown = progress.for_output(json_out)
    plan = plan_repair(site, name, shown, mail=not no_mail)
    if plan is None:
        render.nothing_to_do(name, "nothing to repair: every machine of the pair is created (or destroyed "
                                   "on purpose)", json_out)
        return
    if dry_run:
        render.plan(plan.to_dict(), json_out)
        return
    with shown:
        result = apply(plan)
    render.pair_result(result.to_dict(), json_out)
    if not result.ok:
        raise typer.Exit(130 if (result.stopped_at or {}).get("interrupted") else 1)
