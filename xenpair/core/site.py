"""Everything a command works on, built once from the config: every path comes from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xenpair.adapters.hosts import LocalHost
from xenpair.adapters.registry import Registry
from xenpair.config import Config, Tier, load_config, load_packages


@dataclass
class Site:
    config: Config
    config_path: Path | None
    hosts: dict[str, LocalHost] = field(default_factory=dict)
    _tiers: dict[str, Tier] | None = None

    @property
    def registry(self) -> Registry:
        c = self.config
        return Registry(c.registry.hosting, c.registry.backup, c.hosting.prefix, c.backup.prefix)

    @property
    def tiers(self) -> dict[str, Tier]:
        if self._tiers is None:
            self._tiers = load_packages(self.config)
        return self._tiers

    def terminate_all(self) -> None:
        for host in set(self.hosts.values()):
            host.terminate_all()


def open_site(config_arg: str | None = None) -> Site:
    config, path = load_config(config_arg)
    local = LocalHost()
    # the backup side becomes an SSH host once backup.host may name one
    return Site(config, path, hosts={"hosting": local, "backup": local})
