"""What the Debian package makes from xenpair at build time (xenpair/packaging.py,
debian/make-generated) — the /etc/xenpair config, the man pages, the bash completion — made here
from this tree the same way, and checked against the CLI itself."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import yaml

from tests.conftest import REPO, XENPAIR
from xenpair.config import Config
from xenpair.packaging import commented_config, defaults_block, man_pages


def test_the_etc_config_is_the_documented_defaults_all_commented_out():
    text = commented_config((REPO / "docs/configuration.md").read_text())
    assert yaml.safe_load(text) is None                                   # every line a comment
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                            for line in text.splitlines()[4:])
    assert Config.model_validate(yaml.safe_load(uncommented)) == Config()    # equal to the defaults
    assert defaults_block((REPO / "docs/configuration.md").read_text()).strip() in uncommented


def test_a_config_file_of_comments_only_gives_the_defaults(tmp_path):
    """/etc/xenpair/config.yaml as the package installs it must not be an error."""
    config = tmp_path / "config.yaml"
    config.write_text(commented_config((REPO / "docs/configuration.md").read_text()))
    r = subprocess.run(XENPAIR + ["--config", str(config), "list", "--json"], capture_output=True, text=True,
                       env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert "invalid config" not in r.stderr and "cannot read" not in r.stderr, r.stderr


def test_a_man_page_for_every_command_with_every_option(tmp_path):
    import typer

    from xenpair.cli.app import app

    pages = {p.name: p.read_text() for p in man_pages(tmp_path, "9.9", "2026-12-03")}
    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            if not sub.hidden:
                yield from walk(sub, path + [name])

    for path, cmd in walk(root, ["xenpair"]):
        page = pages.pop("-".join(path) + ".1")
        assert ".TH" in page and "9.9" in page
        for param in cmd.params:
            if getattr(param, "hidden", False) or param.param_type_name != "option":
                continue
            for opt in param.opts:
                assert opt.replace("-", r"\-") in page or opt in page, (path, opt)
    assert pages == {}, f"pages for no command: {sorted(pages)}"


def complete(words: str, config: Path | None = None) -> tuple[list[str], float]:
    argv = words.split()
    cword = len(argv) - (0 if words.endswith(" ") else 1)
    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword), "_XENPAIR_COMPLETE": "complete_bash"}
    if config:
        env["XENPAIR_CONFIG"] = str(config)
    began = time.monotonic()
    r = subprocess.run(XENPAIR, capture_output=True, text=True, env=env, timeout=30)
    return r.stdout.split(), time.monotonic() - began


def test_bash_completion_of_commands_options_packages_and_pair_names(tmp_path):
    registry = tmp_path / "h.csv"
    registry.write_text("IP;Name;Package;external IP;Date created;State\n"
                        "192.168.20.2;shop.hosting.example.de;small;;2026-12-03T00:00:00+00:00;created\n"
                        "192.168.20.3;shark.hosting.example.de;small;;2026-12-03T00:00:00+00:00;created\n"
                        "192.168.20.4;web.hosting.example.de;small;;2026-12-03T00:00:00+00:00;created\n")
    packages = tmp_path / "packages.yaml"
    packages.write_text(yaml.safe_dump({n: {"hosting": {"ram_mb": 256, "vcpus": 1, "disk_gb": 1},
                                            "backup": {"ram_mb": 128, "vcpus": 1, "disk_gb": 1}}
                                        for n in ("small", "smart", "big")}))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"packages_file": str(packages),
                                      "registry": {"hosting": str(registry), "backup": str(tmp_path / "b.csv")}}))
    assert complete("xenpair cr")[0] == ["create"]
    assert complete("xenpair create --ov")[0] == ["--overwrite"]
    assert complete("xenpair create sm", config)[0] == ["small", "smart"]
    assert complete("xenpair destroy sh", config)[0] == ["shark", "shop"]
    assert complete("xenpair start ", config)[0] == ["shark", "shop", "web"]
    assert complete(f"xenpair --config {config} show w")[0] == ["web"]
    assert complete("xenpair ip set s", config)[0] == ["shark", "shop"]
    # a broken config: no names, no error on the terminal
    config.write_text("registry: [not, a, mapping\n")
    assert complete("xenpair destroy sh", config)[0] == []
    from typer.completion import get_completion_script

    script = tmp_path / "xenpair.bash"
    script.write_text(get_completion_script(prog_name="xenpair", complete_var="_XENPAIR_COMPLETE", shell="bash"))
    r = subprocess.run(["bash", "-c", f"source {script} && complete -p xenpair"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("complete ") and r.stdout.strip().endswith(" xenpair"), r
