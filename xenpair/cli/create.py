"""xenpair create PACKAGE NAME [EXTERNAL_IP]"""

import sys
from typing import Annotated

import typer

from xenpair.errors import BadInput, Refused

EPILOG = ("Example, fully scripted: xenpair create package2 customer42 203.0.113.10 --yes --json. "
          "Preview only: xenpair create 2 customer42 --dry-run")
MAX_REPLANS = 50


def _confirm(question: str) -> bool:
    """y/N on stderr (stdout stays clean for --json). Ctrl-C propagates (exit 130); Ctrl-D is no.

    Not click's confirm: it turns Ctrl-C into the same Abort as Ctrl-D (exit 1).
    """
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def create(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(
        help="Package tier from packages.yaml; a bare number N means packageN.", show_default=False)],
    name: Annotated[str, typer.Argument(
        help="Short machine name, one DNS label (a-z, 0-9, inner '-', at most 63): the machines "
             "become NAME.<hosting.domain> and NAME.<backup.domain>.", show_default=False)],
    external_ip: Annotated[str | None, typer.Argument(
        help="Optional public IPv4 address for the hosting machine (a second --ip).",
        show_default=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y",
                                      help="Create without asking (needed without a terminal).")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan (argv of both xen-create-image runs, registry rows) and "
                          "change nothing.")] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the plan or result as one JSON object on stdout; messages go to "
                       "stderr.")] = False,
) -> None:
    """Create a hosting + backup pair: allocate N, build both machines at once, record them."""
    from xenpair.cli import progress, render
    from xenpair.core.create import Stale, plan_create
    from xenpair.core.plan import apply
    from xenpair.core.site import open_site
    from xenpair.core.validate import check_name

    check_name(name)            # before anything is read: a bad name changes nothing
    site = open_site(ctx.obj["config"])
    ctx.call_on_close(site.close)        # the SSH connection to the backup dom0, if any
    shown = progress.for_output(json_out)
    plan = plan_create(site, package, name, external_ip, shown)
    if dry_run:
        render.plan(plan.to_dict(), json_out)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput("no terminal to ask for confirmation on",
                           hint="pass --yes to create unattended, or --dry-run to only see the plan")
        render.plan(plan.to_dict(), json_out, to_stderr=json_out)
        if not _confirm("Create these machines?"):
            raise Refused("nothing created: you answered no")
    for _ in range(MAX_REPLANS):
        try:
            with shown:
                result = apply(plan)[-1]
            break
        except Stale:
            if not yes:
                raise BadInput("another xenpair took the planned address while you were deciding",
                               hint="run the command again; nothing was created") from None
            plan = plan_create(site, package, name, external_ip, shown)
    else:
        raise BadInput("the registry kept changing while reserving an address",
                       hint="too many xenpair runs at once; run again")
    render.pair_result(result.to_dict(), json_out)
    if not result.ok:
        raise typer.Exit(1)
