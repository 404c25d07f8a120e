"""Everything a command works on, built once from the config: every path comes from here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xenpair.adapters.registry import Registry
from xenpair.config import Config, Tier, load_config, load_packages

if TYPE_CHECKING:
    from xenpair.adapters.hosts import LocalHost
    from xenpair.adapters.ssh import SshHost


@dataclass
class Site:
    config: Config
    config_path: Path | None
    _tiers: dict[str, Tier] | None = None
    _hosts: dict[str, LocalHost] | None = None

    @property
    def hosts(self) -> dict[str, LocalHost | SshHost]:
        """Built on first use: read-only commands never load subprocess or SSH machinery.

        An SSH host starts connecting at once, in the background: it overlaps the local work.
        """
        if self._hosts is None:
            self.require_xen_tools()
            from xenpair.adapters.hosts import LocalHost

            local = LocalHost()
            target = self.config.backup.target
            if target is None:
                backup = local
            else:
                from xenpair.adapters.ssh import SshHost

                backup = SshHost(target, self.config.backup.ssh)
            self._hosts = {"hosting": local, "backup": backup}
        return self._hosts

    def require_xen_tools(self) -> None:
        """What the Ganeti backend cannot do yet is refused, never done with xen-tools on this host."""
        if self.config.backend == "ganeti":
            from xenpair.errors import BadInput

            raise BadInput("backend: ganeti carries out only 'check', 'list', 'show', 'create' (build only) and "
                           "'destroy' so far; starting, waiting, rebuilding, repairing and IP changes on a cluster "
                           "are not there yet", where=f"{self.config_path}: backend",
                           hint="use backend: xen-tools for this (docs/ganeti.md says what works)")

    def close(self) -> None:
        for host in set((self._hosts or {}).values()):
            if host.remote:
                host.close()

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
        for host in set((self._hosts or {}).values()):
            host.terminate_all()


def open_site(config_arg: str | None = None) -> Site:
    config, path = load_config(config_arg)
    return Site(config, path)
