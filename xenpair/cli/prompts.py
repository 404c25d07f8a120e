"""Asking people things (questionary). Imported only by the commands that ask.

Ctrl-C and Esc at any prompt raise KeyboardInterrupt: the command exits 130, nothing written.
"""

import sys

from xenpair.errors import BadInput, Refused


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def require_terminal(what: str, flags: str) -> None:
    if not sys.stdin.isatty():
        raise BadInput(f"no terminal to ask {what} on", hint=f"pass {flags}")


def _ask(question):
    """Esc cancels like Ctrl-C; unsafe_ask lets the KeyboardInterrupt through (ask() would swallow it)."""
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

    keys = KeyBindings()

    @keys.add("escape")
    def _cancel(event):
        event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    app = question.application
    app.key_bindings = merge_key_bindings([app.key_bindings, keys])
    return question.unsafe_ask()


def select(message: str, choices: list[tuple[str, str]]) -> str:
    import questionary

    return _ask(questionary.select(message, choices=[questionary.Choice(title, value) for title, value in choices]))


def text(message: str, validate=None) -> str:
    import questionary

    return _ask(questionary.text(message, validate=validate))


def confirm(message: str, default: bool = False) -> bool:
    import questionary

    return _ask(questionary.confirm(message, default=default))


def type_to_confirm(name: str, warning: list[str]) -> None:
    """Like deleting a repository on a forge: show what goes, then the name must be typed."""
    for line in warning:
        sys.stderr.write(line + "\n")
    typed = text(f"Type the machine name ({name}) to confirm:")
    if typed.strip() != name:
        raise Refused(f"nothing changed: you typed {typed.strip()!r}, not {name!r}")
