"""xenpair check"""

from typing import Annotated

import typer


def check(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the checks as a JSON array.")] = False,
) -> None:
    """Preflight for a site: config, packages, registry, and both dom0s (SSH, xen-create-image, storage)."""
    from xenpair.cli import render
    from xenpair.core.check import run_checks

    checks = run_checks(ctx.obj["config"])
    render.checks([c.to_dict() for c in checks], json_out)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
