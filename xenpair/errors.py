"""One exception family. The CLI maps each class to an exit code in one place."""

from __future__ import annotations


class XenpairError(Exception):
    """Something went wrong; says what, where, and what to do next."""

    def __init__(self, what: str, where: object = None, hint: str | None = None,
                 details: str | None = None):
        super().__init__(what)
        self.what = what
        self.where = None if where is None else str(where)
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        parts = [self.what]
        if self.where:
            parts.append(f"  where: {self.where}")
        if self.details:
            parts.append(self.details.rstrip("\n"))
        if self.hint:
            parts.append(f"  what to do: {self.hint}")
        return "\n".join(parts)


class BadInput(XenpairError):
    """Arguments, config, packages file or registry contents the user must fix. Nothing changed."""


class ConfigError(BadInput):
    pass


class RegistryError(BadInput):
    pass


class AlreadyExists(BadInput):
    pass


class Refused(XenpairError):
    """The user declined, or there is no terminal to ask on."""


class Failed(XenpairError):
    """An outside command or the machine itself failed."""


def decode_utf8(raw: bytes, path: object, error: type[XenpairError], what: str, hint: str) -> str:
    """RAW as text, or ERROR naming the file and line of the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise error(f"{what} is not UTF-8 text (byte {raw[e.start]:#04x})", where=f"{path}:{line}",
                    hint=hint) from None


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP: handled like Ctrl-C (builds stopped, mounts released, machines
    marked failed); the exit code is 130 for Ctrl-C, 128 + the signal number otherwise."""

    def __init__(self, signum: int, name: str):
        super().__init__(name)
        self.signum, self.name = signum, name
