"""Site config and packages.yaml: pydantic models, loading, and error messages with file:line.

No `from __future__ import annotations` here: pydantic would eval every annotation string when
the classes are made, on every start (~1 ms measured).
"""

import os
import re
from importlib import resources
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)

from xenpair.config_ganeti import Ganeti
from xenpair.config_images import Images
from xenpair.config_roles import AbsPath, Command, Roles
from xenpair.config_web import Web
from xenpair.errors import ConfigError
from xenpair.yamlfile import compose, line_of, read_yaml, validation_problems

DEFAULT_CONFIG = Path("/etc/xenpair/config.yaml")
DEFAULT_PACKAGES = Path("/etc/xenpair/packages.yaml")      # the .deb's conffile
ENV_CONFIG = "XENPAIR_CONFIG"

_DOMAIN = re.compile(r"(?=.{1,200}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]*\Z")
_TIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")

# xen-create-image options xenpair sets itself (or that change where the disks or the cfg file go,
# which xenpair must know): setting them in extra_args would make the plan lie.
MANAGED_OPTIONS = frozenset((
    "hostname", "ip", "netmask", "gateway", "bridge", "memory", "swap", "noswap", "size", "vcpus", "dist",
    "fs", "pygrub", "nopygrub", "dir", "lvm", "evms", "zpool", "image-dev", "swap-dev", "partitions",
    "output", "extension", "force", "noforce", "hash_method", "verbose", "noverbose", "role", "roledir",
    "role-args"))
# Options that delete guests, leave images mounted, wait for a terminal or change how the rest is
# read (reference §6).
REFUSED_OPTIONS = frozenset(("debug", "hooks", "install", "config", "dumpconfig", "help", "manual", "version",
                             "boot", "passwd", "dhcp"))


def _domain(v: str) -> str:
    if not _DOMAIN.match(v):
        raise ValueError("must be a DNS domain of lowercase labels, e.g. hosting.example.de")
    return v


def _word(v: str) -> str:
    if not _WORD.match(v):
        raise ValueError("must be one word: letters, digits and _ . : @ + - only")
    return v


def _extra_arg(v: str) -> str:
    from xenpair.adapters.xen_create_image import resolve_option

    if not v.startswith("--") or len(v) < 3:
        raise ValueError(f"{v!r} is not a long option: each item is one '--option' or '--option=value'")
    if "\n" in v or "\0" in v:
        raise ValueError("must not contain a newline")
    name, eq, value = v[2:].partition("=")
    if eq and value == "":
        raise ValueError(f"{v!r} has an empty value (xen-create-image then does nothing and exits 0)")
    # resolved as xen-create-image's Getopt::Long resolves it: `--fo`, `--debu`, `--VC=64` are options too
    option, kind = resolve_option(name)
    if option in MANAGED_OPTIONS:
        raise ValueError(f"{v!r} sets --{option}, which xenpair sets itself from the config and the tier")
    if option in REFUSED_OPTIONS:
        alias = "" if option == name.lower() else f" (xen-create-image reads it as --{option})"
        raise ValueError(f"{v!r} is not allowed{alias}: it breaks or deletes guests in xen-tools 4.9")
    if kind == "" and eq:
        raise ValueError(f"{v!r}: --{option} takes no value")
    if kind.startswith("=") and not eq:
        raise ValueError(f"{v!r}: --{option} needs a value, as one item: --{option}=VALUE")
    if kind == "=i" and not re.fullmatch(r"[-+]?[0-9]+", value):
        raise ValueError(f"{v!r}: --{option} takes a whole number")
    return v


Domain = Annotated[str, AfterValidator(_domain)]
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Word = Annotated[str, AfterValidator(_word)]
ExtraArg = Annotated[str, AfterValidator(_extra_arg)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Storage(_Strict):
    lvm: Word | None = None
    dir: AbsPath | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "Storage":
        if (self.lvm is None) == (self.dir is None):
            raise ValueError("give exactly one of 'lvm: VG' or 'dir: /path'")
        return self

    @property
    def option(self) -> str:
        return f"--lvm={self.lvm}" if self.lvm else f"--dir={self.dir}"


class XenCreateImage(_Strict):
    command: Command = "xen-create-image"
    delete_command: Command = "xen-delete-image"
    dist: Word = "bookworm"
    fs: Literal["ext2", "ext3", "ext4", "xfs", "reiserfs", "btrfs"] = "ext4"
    pygrub: bool = True
    storage: Storage = Storage(lvm="vg0")
    cfg_dir: AbsPath = "/etc/xen"
    log_dir: AbsPath = "/var/log/xen-tools"
    extra_args: list[ExtraArg] = []


class XenCreateImageOverride(_Strict):
    """Per-side overrides: any key given here replaces the top-level xen_create_image value."""

    command: Command | None = None
    delete_command: Command | None = None
    dist: Word | None = None
    fs: Literal["ext2", "ext3", "ext4", "xfs", "reiserfs", "btrfs"] | None = None
    pygrub: bool | None = None
    storage: Storage | None = None
    cfg_dir: AbsPath | None = None
    log_dir: AbsPath | None = None
    extra_args: list[ExtraArg] | None = None


class KindConfig(_Strict):
    prefix: IPv4Network = IPv4Network("192.168.20.0/24")
    domain: Domain = "hosting.example.de"
    bridge: Word = "xenbr1"
    gateway: IPv4Address | None = None
    reserved: list[IPv4Address] | None = Field(default=None, description="default: the first host address "
                                                                        "(the dom0's own); [] = none")
    xen_create_image: XenCreateImageOverride | None = None

    @model_validator(mode="after")
    def _check(self) -> "KindConfig":
        p = self.prefix
        if p.prefixlen > 30:
            raise ValueError(f"prefix {p} is too small: use /30 or larger")
        if self.gateway is not None:
            if self.gateway not in p:
                raise ValueError(f"gateway {self.gateway} is not inside prefix {p}")
            if self.gateway in (p.network_address, p.broadcast_address):
                raise ValueError(f"gateway {self.gateway} is the network or broadcast address of {p}")
        for ip in self.reserved or []:
            if ip not in p or ip in (p.network_address, p.broadcast_address):
                raise ValueError(f"reserved address {ip} is not a host address of prefix {p}")
        return self

    @property
    def never_allocated(self) -> list[IPv4Address]:
        """Host addresses no pair gets: the reserved ones (default the first, the dom0's) and the gateway."""
        reserved = [self.prefix.network_address + 1] if self.reserved is None else list(self.reserved)
        return reserved + ([self.gateway] if self.gateway else [])


_TARGET = re.compile(r"(?:(?P<user>[a-z_][a-z0-9_.-]{0,31})@)?(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))"
                     r"(?::(?P<port>[0-9]{1,5}))?\Z")


class SshTarget(NamedTuple):
    user: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


class SshSettings(_Strict):
    key_file: str | None = Field(default=None, description="default: your usual keys and ssh-agent")
    known_hosts: str = "~/.ssh/known_hosts"
    connect_timeout: Float = Field(default=10.0, gt=0, le=600)
    command_timeout: Float = Field(default=7200.0, gt=0, le=86400)


class BackupKindConfig(KindConfig):
    prefix: IPv4Network = IPv4Network("192.168.30.0/24")
    domain: Domain = "backup.example.de"
    host: str = "local"
    ssh: SshSettings = SshSettings()

    @model_validator(mode="after")
    def _host(self) -> "BackupKindConfig":
        if self.host != "local":
            m = _TARGET.match(self.host)
            if not m or not 0 < int(m["port"] or 22) < 65536:
                raise ValueError(f"host {self.host!r} is not 'local' nor an SSH target [user@]host[:port]")
        return self

    @property
    def target(self) -> "SshTarget | None":
        """None for 'local'."""
        if self.host == "local":
            return None
        m = _TARGET.match(self.host)
        return SshTarget(m["user"] or "root", m["host"], int(m["port"] or 22))


class External(_Strict):
    """The network of the hosting machines' external IPs (their second vif, eth1 in the guest)."""

    bridge: Word = "xenbr0"
    netmask: IPv4Address = IPv4Address("255.255.255.0")
    gateway: IPv4Address | None = None


class Smtp(_Strict):
    host: Word = "localhost"
    port: Int = Field(default=25, gt=0, lt=65536)
    tls: Literal["none", "starttls", "implicit"] = "none"
    ca_file: str | None = Field(default=None, description="default: the system's CA store")
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password_file: str | None = None

    @model_validator(mode="after")
    def _pairs(self) -> "Smtp":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (the client certificate for mutual TLS)")
        if (self.username is None) != (self.password_file is None):
            raise ValueError("username and password_file go together")
        if self.username and self.tls == "none":
            raise ValueError("a login needs tls: starttls or implicit (no passwords in the clear)")
        return self


def _address(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._%+-]+(@[A-Za-z0-9.-]+)?", v):
        raise ValueError(f"{v!r} is not a mail address (user or user@domain)")
    return v


Address = Annotated[str, AfterValidator(_address)]


class Mail(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: Address | list[Address] = "root"
    from_: Address | None = Field(default=None, alias="from", description="default: xenpair@<this host's fqdn>")
    transport: Literal["sendmail", "smtp"] = "sendmail"
    sendmail: Command = "/usr/sbin/sendmail"
    smtp: Smtp = Smtp()
    include_root_passwords: bool = True

    @property
    def recipients(self) -> list[str]:
        return [self.to] if isinstance(self.to, str) else list(self.to)


class Ready(_Strict):
    """`--wait` and `xenpair wait`: a machine is ready when its sshd proves the host key its
    install summary printed; the verified keys then go into known_hosts on its dom0."""

    timeout: Float = Field(default=300.0, gt=0, le=86400)
    ssh_port: Int = Field(default=22, gt=0, lt=65536)
    # the SSH host keys every guest gets at build time (xenpair's xenpair-identity role)
    host_key_types: list[Literal["ed25519", "ecdsa", "rsa"]] = Field(default=["ed25519", "ecdsa", "rsa"],
                                                                     min_length=1, max_length=3)
    # read by OpenSSH on bookworm without configuration (GlobalKnownHostsFile); null: write none
    known_hosts: AbsPath | None = "/etc/ssh/ssh_known_hosts2"

    @model_validator(mode="after")
    def _once(self) -> "Ready":
        if len(set(self.host_key_types)) != len(self.host_key_types):
            raise ValueError(f"host_key_types lists a type twice: {self.host_key_types}")
        return self


class RegistryPaths(_Strict):
    hosting: Path = Path("/root/xen_hosting_ips.csv")
    backup: Path = Path("/root/xen_backup_ips.csv")


class Config(_Strict):
    # who builds: xen-create-image on two dom0s (the CSV registry owns the addresses) or a Ganeti
    # cluster (its networks own them)
    backend: Literal["xen-tools", "ganeti"] = "xen-tools"
    packages_file: Path | None = None
    log_dir: AbsPath = "/var/log/xenpair"
    roles_dir: AbsPath = "/var/lib/xenpair/roles"     # xen-tools runs roles through a shell string
    toolstack: Command = "xl"
    # how long one xen-create-image may run, on either dom0 (over SSH also bounded by
    # backup.ssh.command_timeout); then its process group is stopped (SIGTERM, then SIGKILL)
    build_timeout: Float = Field(default=7200.0, gt=0, le=86400)
    external: External = External()
    mail: Mail = Mail()
    registry: RegistryPaths = RegistryPaths()
    ready: Ready = Ready()
    hosting: KindConfig = KindConfig()
    backup: BackupKindConfig = BackupKindConfig()
    xen_create_image: XenCreateImage = XenCreateImage()
    images: Images = Images()
    roles: Roles = Roles()
    web: Web = Web()
    ganeti: Ganeti = Ganeti()

    @model_validator(mode="after")
    def _apart(self) -> "Config":
        if self.hosting.prefix.overlaps(self.backup.prefix):
            raise ValueError(f"hosting.prefix {self.hosting.prefix} and backup.prefix "
                             f"{self.backup.prefix} overlap")
        if self.hosting.domain == self.backup.domain:
            raise ValueError(f"hosting.domain and backup.domain are both {self.hosting.domain}: the two machines "
                             "of a pair would get the same hostname and cfg file")
        if os.path.abspath(self.registry.hosting) == os.path.abspath(self.registry.backup):
            raise ValueError(f"registry.hosting and registry.backup are the same file ({self.registry.hosting})")
        return self

    def xci(self, kind: str) -> XenCreateImage:
        """xen_create_image for one kind of machine: the top level, with that kind's overrides on top."""
        override = getattr(self, kind).xen_create_image
        if override is None:
            return self.xen_create_image
        merged = {**self.xen_create_image.model_dump(), **override.model_dump(exclude_none=True)}
        return XenCreateImage.model_validate(merged)


class Machine(_Strict):
    # packages.yaml is read only by commands that build; `list` never pays for these schemas
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    # strict whole numbers (YAML's `true` is no 1) within what Xen and xen-tools can give a guest
    ram_mb: Int = Field(ge=32, le=16 * 1024 * 1024)                 # 32 MB .. 16 TiB
    vcpus: Int = Field(ge=1, le=512)
    disk_gb: Int = Field(ge=1, le=1024 * 1024)                       # 1 GB .. 1 PB
    swap_mb: Int | None = Field(default=None, ge=0, le=1024 * 1024, description="default: ram_mb; 0 = no swap")

    @property
    def swap(self) -> int:
        return self.ram_mb if self.swap_mb is None else self.swap_mb


class Tier(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    hosting: Machine
    backup: Machine


# ---------------------------------------------------------------- loading


def shipped_packages_file() -> Path:
    return Path(str(resources.files("xenpair") / "packages.yaml"))


def packages_path(packages_file: Path | str | None) -> Path:
    """packages_file, else /etc/xenpair/packages.yaml if it exists, else the one shipped with xenpair."""
    if packages_file:
        return Path(packages_file)
    return DEFAULT_PACKAGES if DEFAULT_PACKAGES.exists() else shipped_packages_file()


def config_path(explicit: str | None) -> Path | None:
    """--config, else $XENPAIR_CONFIG, else /etc/xenpair/config.yaml if it exists, else None."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def load_config(explicit: str | None = None) -> tuple[Config, Path | None]:
    path = config_path(explicit)
    if path is None:
        return Config(), None
    data = read_yaml(path, "config")
    try:
        return Config.model_validate(data), path
    except ValidationError as e:
        found = validation_problems(e, path, compose(path))
        raise ConfigError(f"invalid config {path} ({len(found)} problem(s)):",
                          details="\n".join("  " + p for p in found),
                          hint="fix these keys; see docs/configuration.md") from None


def load_packages(config: Config) -> dict[str, Tier]:
    path = packages_path(config.packages_file)
    data = read_yaml(path, "packages file")
    problems: list[str] = []
    tiers: dict[str, Tier] = {}
    root = None
    for name, value in data.items():
        if not isinstance(name, str) or not _TIER.match(name):
            root = root or compose(path)
            problems.append(f"{path}:{line_of(root, [name])}: {name}: tier names are letters, digits, "
                            "'_', '.', '-' (at most 63)")
            continue
        try:
            tiers[name] = Tier.model_validate(value)
        except ValidationError as e:
            root = root or compose(path)
            problems.extend(validation_problems(e, path, root, prefix=[name]))
    if not data:
        problems.append(f"{path}: no tiers defined")
    if problems:
        raise ConfigError(f"invalid packages file {path} ({len(problems)} problem(s)):",
                          details="\n".join("  " + p for p in problems),
                          hint="fix these keys; see docs/configuration.md")
    return tiers


def resolve_tier(tiers: dict[str, Tier], name: str) -> str:
    """'2' means 'package2' (the old wrapper asked for a single digit)."""
    if name in tiers:
        return name
    if name.isdigit() and f"package{name}" in tiers:
        return f"package{name}"
    raise ConfigError(f"unknown package {name!r}",
                      hint=f"use one of: {', '.join(tiers)} (a bare number N means packageN)")
