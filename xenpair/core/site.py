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
    _local: LocalHost | None = None

    @property
    def hosts(self) -> dict[str, LocalHost | SshHost]:
        """Built on first use: read-only commands never load subprocess or SSH machinery.

        An SSH host starts connecting at once, in the background: it overlaps the local work.
        """
        if self._hosts is None:
            self.require_xen_tools("this command")
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

    def require_xen_tools(self, what: str = "this") -> None:
        """What only the xen-tools backend does is refused on a cluster, never done with xen-tools on this host."""
        if self.config.backend == "ganeti":
            from xenpair.errors import BadInput

            raise BadInput(f"{what} works with backend: xen-tools only (dom0s, xen-create-image); this site has "
                           "backend: ganeti", where=f"{self.config_path}: backend",
                           hint="docs/ganeti.md says what xenpair does on a cluster")

    def reach(self, kind: str) -> LocalHost | SshHost:
        """Where the machines of KIND are reached from (`wait`, known_hosts): the dom0 that runs
        them; on a Ganeti cluster the host xenpair runs on, which must reach both networks."""
        if self.config.backend == "ganeti":
            if self._local is None:
                from xenpair.adapters.hosts import LocalHost

                self._local = LocalHost()
            return self._local
        return self.hosts[kind]

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
