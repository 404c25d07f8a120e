"""Every command and option has help text and an entry in docs/; every config key is documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from pydantic import BaseModel

from xenpair.cli.app import app
from xenpair.config import Config, Machine

DOCS = Path(__file__).resolve().parent.parent / "docs"
ROOT = typer.main.get_command(app)
COMMANDS = sorted(ROOT.commands)


def test_root_options_have_help():
    for param in ROOT.params:
        assert getattr(param, "help", None), f"xenpair {param.name} has no help"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_and_docs(name):
    cmd = ROOT.commands[name]
    assert cmd.help, f"xenpair {name} has no help text"
    doc = (DOCS / "commands.md").read_text()
    assert f"## xenpair {name}" in doc, f"docs/commands.md has no section for xenpair {name}"
    section = doc.split(f"## xenpair {name}", 1)[1].split("\n## ", 1)[0]
    for param in cmd.params:
        assert getattr(param, "help", None), f"xenpair {name}: {param.name} has no help"
        if getattr(param, "hidden", False):      # --wait-seconds: how --wait=SECONDS reaches the command
            continue
        names = [o for o in param.opts if o.startswith("--")] or [param.name.upper()]
        for opt in names:
            assert opt in section, f"docs/commands.md, xenpair {name}: {opt} is not documented"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"          # the spelling in the YAML file
        out.append(path)
        ann = field.annotation
        for arg in getattr(ann, "__args__", ()) or (ann,):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out += _keys(arg, path + ".")
    return out


@pytest.mark.parametrize("key", _keys(Config) + [f"<tier>.hosting.{k}" for k in Machine.model_fields])
def test_config_key_is_documented(key):
    doc = (DOCS / "configuration.md").read_text()
    assert f"`{key}`" in doc, f"docs/configuration.md does not document `{key}`"


def test_exit_codes_are_documented():
    doc = (DOCS / "commands.md").read_text()
    for code in ("`0`", "`1`", "`2`", "`130`"):
        assert code in doc


def test_help_runs_for_every_command():
    for name in [[]] + [[c] for c in COMMANDS]:
        r = subprocess.run([sys.executable, "-m", "xenpair", *name, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and "Usage" in r.stdout
    r = subprocess.run([sys.executable, "-m", "xenpair", "create", "--help"], capture_output=True, text=True,
                       env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert "xenpair create package2 customer42 203.0.113.10 --yes --start --json" in r.stdout


HEAVY = ("paramiko", "questionary")
PROBE = """
import sys
from xenpair.cli.app import run
run({argv!r})
print("HEAVY=" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("argv, heavy", [
    (["--help"], HEAVY), (["create", "small", "x", "--dry-run"], HEAVY),
    # list and show print plain text: not even rich
    (["list"], HEAVY + ("rich",)), (["show", "shop"], HEAVY + ("rich",)),
])
def test_heavy_modules_only_where_used(tiny_site, argv, heavy):
    """paramiko and questionary are imported only by the commands that use them (none of these)."""
    from tests.conftest import old_wrapper_registry
    old_wrapper_registry(tiny_site)
    full = ["--config", str(tiny_site.config_path), *argv]
    r = subprocess.run([sys.executable, "-c", PROBE.format(argv=full, heavy=heavy)], capture_output=True, text=True)
    assert "HEAVY=\n" in r.stderr, r.stderr
