"""Reading the site's YAML files: PyYAML (safe, duplicate keys refused), the parsed-config cache,
and naming file:line for a problem pydantic found. PyYAML is imported only when a file must
really be parsed (most calls take the cache)."""

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xenpair.errors import ConfigError, decode_utf8

_LOADER = None


def _loader():
    """PyYAML's safe loader (the C one where there is one), refusing duplicate keys: YAML would
    silently keep the last value, and a site would run with a setting it did not mean."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            def construct_mapping(self, node, deep=False):
                seen: dict = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    line = key_node.start_mark.line + 1
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (lines {seen[key]} and {line}): YAML would "
                                        "silently keep the last one", key_node.start_mark)
                    seen[key] = line
                return super().construct_mapping(node, deep)

        _LOADER = Loader
    return _LOADER


def read_yaml(path: Path, what: str) -> dict:
    from xenpair.adapters import yamlcache

    try:
        st = path.stat()
        data = yamlcache.get(path, st)
        if data is not None:
            return data
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}", where=str(path),
                          hint="check the path (" + ("given by --config, $XENPAIR_CONFIG or the default"
                                                 if what == "config" else "packages_file in the config")
                               + ")") from None
    text = decode_utf8(raw, path, ConfigError, what, hint="save the file as UTF-8")
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{what} is not valid YAML: {getattr(e, 'problem', e)}", where=where,
                          hint="fix the syntax at that line") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a YAML mapping of keys", where=f"{path}:1")
    yamlcache.put(path, st, data)
    return data


def compose(path: Path) -> Any:
    """The YAML node tree, only needed to name the line of a problem."""
    import yaml

    try:
        return yaml.compose(path.read_text(), Loader=_loader())
    except (OSError, ValueError, yaml.YAMLError):    # changed under us: name no line rather than fail
        return None


def line_of(node: Any, loc: list) -> int:
    """Line of the deepest YAML node that exists along the key path (1-based)."""
    import yaml

    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def validation_problems(e: ValidationError, path: Path, root: Any, prefix: list | None = None) -> list[str]:
    out = []
    for err in e.errors(include_url=False):
        loc = (prefix or []) + [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        key = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/configuration.md)"
        out.append(f"{path}:{line_of(root, loc)}: {key}: {msg}")
    return out
