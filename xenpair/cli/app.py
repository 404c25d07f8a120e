"""The xenpair command line. The only layer that prints, prompts or picks an exit code.

No `from __future__ import annotations` in the command modules: typer would eval every string
annotation at each start.
"""

import contextlib
import os
import signal
import sys
import threading
from typing import Annotated

import typer

from xenpair import __version__
from xenpair.cli import check as check_cmd
from xenpair.cli import create as create_cmd
from xenpair.cli import destroy as destroy_cmd
from xenpair.cli import lifecycle, listing
from xenpair.cli import repair as repair_cmd
from xenpair.cli.ganeti import ganeti_app
from xenpair.cli.images import image_app
from xenpair.cli.roles import roles_app
from xenpair.cli.web import web_app
from xenpair.errors import BadInput, Interrupted, XenpairError

# xenpair uses no pydantic plugins; without this, defining the first model scans every installed
# distribution's entry points (a few ms on each start). An explicit setting still wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
GLOBAL_OPTIONS = ("--config", "-c", "--version")


def _plain_help() -> None:
    """typer 0.27+ (pinned 0.29.x) prints `<bool>` after every flag and `{name}` for each argument,
    unlike any Debian tool. Here: a flag shows no type, an argument shows as NAME (usage: NAME,
    or [NAME] when optional). Display only; parsing is untouched."""
    from typer import core

    option_type = core.TyperOption.display_type_rich

    def flag_without_type(self, ctx):
        return None if self.is_flag else option_type(self, ctx)

    def argument_usage(self) -> str:
        name = self.display_name_raw
        return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")

    core.TyperOption.display_type_rich = flag_without_type
    core.TyperArgument.display_name_raw = property(lambda self: self.metavar or self.name.upper())
    core.TyperArgument._usage_display_name = argument_usage
    core.TyperArgument.display_type_rich = lambda self, ctx: None


_plain_help()

app = typer.Typer(
    name="xenpair",
    help="Create a customer's hosting + backup pair of Xen guests with xen-create-image.",
    epilog="Exit codes: 0 ok, 1 failed, 2 bad input (nothing changed), 130 interrupted. "
           "See docs/ for every command and config key.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"xenpair {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option(
        "--config", "-c", metavar="FILE", envvar="XENPAIR_CONFIG", show_envvar=True,
        help="Site config (YAML). Default: /etc/xenpair/config.yaml if it exists, else built-in "
             "defaults.")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = {"config": config}


app.command("create", epilog=create_cmd.EPILOG)(create_cmd.create)
app.command("list")(listing.list_cmd)
app.command("show")(listing.show_cmd)
app.command("repair")(repair_cmd.repair)
app.command("check")(check_cmd.check)
app.command("destroy")(destroy_cmd.destroy)
app.add_typer(lifecycle.ip_app, name="ip")
app.command("start")(lifecycle.start)
app.command("wait")(lifecycle.wait)
app.command("stop")(lifecycle.stop)
app.add_typer(roles_app, name="roles")
app.add_typer(image_app, name="image")
app.add_typer(web_app, name="web")
app.add_typer(ganeti_app, name="ganeti")


def exit_code(error: BaseException) -> int:
    """The one place that maps an error to an exit code."""
    if isinstance(error, Interrupted) and error.signum != signal.SIGINT:
        return 128 + error.signum
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, BadInput):
        return EXIT_BAD_INPUT
    return EXIT_FAILED


_caught: list[int] = []


def _on_signal(signum: int, frame) -> None:
    """Ctrl-C, SIGTERM (a service stop, `kill`) and SIGHUP (the SSH login to the dom0 dropped) all
    start the same cleanup: the first raises Interrupted where xenpair is; any later one only says
    that the cleanup is under way, so a second Ctrl-C cannot abort it halfway."""
    if signum == signal.SIGHUP:
        _detach_from_terminal()
    if _caught:
        with contextlib.suppress(OSError):
            os.write(2, b"xenpair: still cleaning up (stopping builds, releasing mounts, recording the "
                        b"machines as failed); please wait\n")
        return
    _caught.append(signum)
    raise Interrupted(signum, signal.Signals(signum).name)


def _detach_from_terminal() -> None:
    """After a hang-up the terminal is gone: writing to it would fail and stop the cleanup."""
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                os.dup2(null, fd)
    os.close(null)


def _global_option_after_command(argv: list[str]) -> str | None:
    """`xenpair list --config X`: click would only say "No such option"; name the real mistake."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in ("--config", "-c") else 1
    return next((a for a in argv[i + 1:] if a.split("=", 1)[0] in GLOBAL_OPTIONS), None)


# options whose value is optional, GNU style (`--wait` or `--wait=SECONDS`, never `--wait SECONDS`,
# which would take the next argument): click has no such option, so `--wait=S` is passed on as
# the flag and a hidden option carrying S
OPTIONAL_VALUE = {"--wait": "--wait-seconds"}


def _optional_values(argv: list[str]) -> list[str]:
    out = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:]
        name, eq, value = arg.partition("=")
        out += [name, OPTIONAL_VALUE[name], value] if eq and name in OPTIONAL_VALUE else [arg]
    return out


def run(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (the one place that maps errors to codes, with exit_code)."""
    argv = _optional_values(sys.argv[1:] if argv is None else argv)
    late = _global_option_after_command(argv)
    if late:
        option = late.split("=", 1)[0]
        print(f"xenpair: error: {option} is a global option: it goes before the command\n"
              f"  what to do: xenpair {option}{' FILE' if option != '--version' else ''} COMMAND ..., "
              "e.g. xenpair --config /etc/xenpair/config.yaml list", file=sys.stderr)
        return EXIT_BAD_INPUT
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _on_signal)
    if "_XENPAIR_COMPLETE" in os.environ:    # <TAB> in bash: typer's completion (the script: get_completion_script)
        from typer.completion import completion_init

        completion_init()
    try:
        app(args=argv, prog_name="xenpair")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if _caught and code:            # typer turns the Interrupted into Exit(130): say which signal
            interrupted = Interrupted(_caught[0], signal.Signals(_caught[0]).name)
            with contextlib.suppress(OSError):
                print(f"xenpair: interrupted by {interrupted.name}", file=sys.stderr)
            return exit_code(interrupted)
        return code
    except XenpairError as e:
        print(f"xenpair: error: {e}", file=sys.stderr)
        return exit_code(e)
    except OSError as e:
        # a file or process xenpair did not expect to fail: say which and why, not a traceback
        where = f"\n  where: {e.filename}" if e.filename else ""
        print(f"xenpair: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as e:
        what = f" by {e.name}" if isinstance(e, Interrupted) else ""
        with contextlib.suppress(OSError):
            print(f"xenpair: interrupted{what}", file=sys.stderr)
        return exit_code(e)
    return EXIT_OK


def main(argv: list[str] | None = None) -> None:
    code = run(argv)
    # Leave without the interpreter's teardown: freeing every object at exit took ~26 ms per call
    # (measured; bench/startup.py). Everything xenpair opens is closed before this point: SSH via
    # ctx.call_on_close, run logs in finally blocks, registry writes fsynced, builds joined.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:              # e.g. `xenpair list | head`
        code = code or 1
    os._exit(code)
