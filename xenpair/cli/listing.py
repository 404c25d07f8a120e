"""xenpair list / xenpair show NAME"""

from typing import Annotated

import typer

from xenpair.cli.complete import pair_names

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def list_cmd(ctx: typer.Context, json_out: JsonOpt = False,
             wide: Annotated[bool, typer.Option("--wide", "-w", help="Every column (FQDNs, dates) at full width; "
                                                "otherwise the table fits the terminal (80 columns in a pipe).")]
             = False) -> None:
    """List the pairs in the registry: name, tier, addresses, external IP, state, date (--wide: FQDNs too)."""
    from xenpair.cli import render
    from xenpair.core.query import list_pairs
    from xenpair.core.site import open_site

    render.pairs(*list_pairs(open_site(ctx.obj["config"])), json_out, wide)


def show_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name of the pair (foo, not foo.hosting.example.de).",
                                        show_default=False, autocompletion=pair_names)],
    json_out: JsonOpt = False,
) -> None:
    """Show one pair from the registry."""
    from xenpair.cli import render
    from xenpair.core.query import show_pair
    from xenpair.core.site import open_site

    render.pair(*show_pair(open_site(ctx.obj["config"]), name), json_out)
