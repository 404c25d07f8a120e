"""xenpair list / xenpair show NAME"""

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def list_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the pairs in the registry: name, FQDNs, tier, addresses, external IP, state, date."""
    from xenpair.cli import render
    from xenpair.core.query import list_pairs
    from xenpair.core.site import open_site

    render.pairs(list_pairs(open_site(ctx.obj["config"])), json_out)


def show_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name of the pair (foo, not foo.hosting.example.de).",
                                        show_default=False)],
    json_out: JsonOpt = False,
) -> None:
    """Show one pair from the registry."""
    from xenpair.cli import render
    from xenpair.core.query import show_pair
    from xenpair.core.site import open_site

    render.pair(show_pair(open_site(ctx.obj["config"]), name), json_out)
