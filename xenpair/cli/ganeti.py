"""xenpair ganeti install-os"""

from pathlib import Path
from typing import Annotated

import typer

ganeti_app = typer.Typer(help="What a Ganeti cluster needs of xenpair (backend: ganeti).", no_args_is_help=True)


@ganeti_app.command("install-os")
def install_os(
    target: Annotated[Path | None, typer.Argument(
        help="The folder to write (replaced whole). Default: /srv/ganeti/os/xenpair, Ganeti's OS search path on "
             "this node.", show_default=False)] = None,
    tar: Annotated[Path | None, typer.Option(
        "--tar", metavar="FILE", help="Write a tar file instead, to send to every node: gnt-cluster copyfile FILE, "
                                      "then unpack it into /srv/ganeti/os/xenpair with gnt-cluster command.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be written and change nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the plan or result as JSON on stdout.")] = False,
) -> None:
    """Install xenpair's Ganeti OS definition (OS API 20, with xenpair's role scripts) on this node,
    or write it as a tar for all nodes. `xenpair check` tells when every node has it."""
    from xenpair.cli import render
    from xenpair.core.ganeti_os import plan_install
    from xenpair.core.plan import apply
    from xenpair.errors import BadInput

    if target is not None and tar is not None:
        raise BadInput("give a folder or --tar FILE, not both")
    plan = plan_install(target if tar is None else None, tar) if target or tar else \
        plan_install(Path("/srv/ganeti/os/xenpair"), None)
    if dry_run:
        render.plan(plan.to_dict(), json_out)
        return
    result = apply(plan)
    render.done(f"xenpair's Ganeti OS definition: {result['files']} files written to {result['installed']}",
                result, json_out)
