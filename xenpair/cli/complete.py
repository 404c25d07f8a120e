"""Tab completion of package names and pair names (bash, through Click's completion protocol).

Completion runs at every <TAB>: it reads only the two files it needs (the packages file, the
hosting registry) as plain text, validates nothing, and prints nothing on any problem."""

from __future__ import annotations

from pathlib import Path


def _config(ctx) -> dict:
    from xenpair.config import config_path
    from xenpair.yamlfile import read_yaml

    try:
        path = config_path(ctx.find_root().params.get("config"))
        data = read_yaml(path, "config") if path else {}
    except Exception:            # a broken config: no completions, never an error on the terminal
        return {}
    return data if isinstance(data, dict) else {}


def package_names(ctx, incomplete: str) -> list[str]:
    from xenpair.config import packages_path
    from xenpair.yamlfile import read_yaml

    try:
        data = read_yaml(packages_path(_config(ctx).get("packages_file")), "packages file")
    except Exception:
        return []
    return [str(n) for n in data if str(n).startswith(incomplete)] if isinstance(data, dict) else []


def pair_names(ctx, incomplete: str) -> list[str]:
    from xenpair.config import RegistryPaths

    registry = _config(ctx).get("registry")
    path = (registry or {}).get("hosting") if isinstance(registry, dict) else None
    try:
        text = Path(path or RegistryPaths().hosting).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    names = []
    for line in text.splitlines()[1:]:
        fields = line.split(";")
        short = fields[1].split(".")[0] if len(fields) > 1 else ""
        if short and short.startswith(incomplete) and short not in names:
            names.append(short)
    return sorted(names)
