"""What the Debian package generates from xenpair itself at build time (debian/make-generated),
kept here so that the tests make the same files and compare."""

from __future__ import annotations

from pathlib import Path

CONFIG_HEADER = """\
# /etc/xenpair/config.yaml — xenpair's site config (docs: /usr/share/doc/xenpair, xenpair(1)).
# Every line is commented out: these are the built-in defaults. Uncomment and change what
# differs at this site; a key you leave commented keeps its default. Unknown keys are an error.
"""


def defaults_block(configuration_md: str) -> str:
    """The YAML block 'The site config, with the defaults' of docs/configuration.md."""
    return configuration_md.split("## The site config, with the defaults\n\n```yaml\n", 1)[1].split("```", 1)[0]


def commented_config(configuration_md: str) -> str:
    return CONFIG_HEADER + "\n" + "".join(f"#{' ' if line else ''}{line}\n"
                                           for line in defaults_block(configuration_md).splitlines())


def man_pages(target: Path, version: str, date: str) -> list[Path]:
    """xenpair(1) and xenpair-COMMAND(1) for every visible command, from the CLI's own help."""
    import importlib.util
    import sys
    import types

    import typer
    from typer._click import core, utils
    from typer.core import TyperOption

    # typer 0.26+ carries its own trimmed copy of Click; click-man (the maintained generator)
    # uses three names of `click`: it gets those of the copy xenpair's commands are made of
    shim = types.SimpleNamespace(Context=core.Context, Option=TyperOption, utils=utils)
    if importlib.util.find_spec("click") is None:        # the package build has no Click at all
        sys.modules["click"] = shim
    import click_man.core

    click_man.core.click = shim
    write_man_pages = click_man.core.write_man_pages

    from xenpair.cli.app import app

    target.mkdir(parents=True, exist_ok=True)
    write_man_pages("xenpair", typer.main.get_command(app), version=version, target_dir=str(target), date=date)
    return sorted(target.glob("*.1"))
