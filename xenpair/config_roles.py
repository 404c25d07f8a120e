"""The `roles:` section of the site config: which roles run, and every value the old hooks hard-coded.

Values reach the role scripts as environment variables (see roles_env), never pasted into
script text; still, each is checked here so that nothing can break the shell or the config file
a role writes it into (no newline, quote, backquote, `;`, `$`, backslash).
No `from __future__ import annotations` (see config.py).
"""

import re
from ipaddress import IPv4Address
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

ROLE_NAMES = ("base", "monitoring", "backup-jail")
_UNSAFE = re.compile(r"[\n\r\0'\"`;$\\]")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+\Z")
_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
                  r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^ ].*)?\Z")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*(::[0-9]{1,5})?\Z")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(_[A-Z]{2})?(\.[A-Za-z0-9-]+)?(@[a-z]+)?\Z")
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}\Z")
_MAIL = re.compile(r"[A-Za-z0-9._%+-]+(@[A-Za-z0-9.-]+)?\Z")
_PATH_PART = re.compile(r"[A-Za-z0-9._+@:-]+\Z")
_COMMAND = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*\Z")
_CHECK_NAME = re.compile(r"check_[a-z0-9_]+\Z")
_PLUGIN_CALL = re.compile(r"check_[a-z0-9_]+( [^ ].*)?\Z")
_FILENAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\Z")


def _safe(v: str) -> str:
    bad = _UNSAFE.search(v)
    if bad:
        raise ValueError(f"must not contain {bad.group()!r} (newline, quotes, backquote, ; $ and \\ "
                         "would break the shell or the config file it is written to)")
    return v


def _matching(pattern: re.Pattern, what: str):
    def check(v: str) -> str:
        _safe(v)
        if not pattern.match(v):
            raise ValueError(f"{v!r} is not {what}")
        return v
    return check


def _abs_path(v: str) -> str:
    """An absolute path as it is (one trailing / dropped): xen-tools passes paths through shell
    strings and roles write below them, so no '..', '.', empty component, whitespace or shell
    metacharacter."""
    if not v.startswith("/"):
        raise ValueError(f"{v!r} is not an absolute path")
    if v == "/":
        return v
    v = v[:-1] if v.endswith("/") else v
    for part in v[1:].split("/"):
        if part == "":
            raise ValueError(f"{v!r} has an empty component ('//')")
        if part in (".", ".."):
            raise ValueError(f"{v!r} has a {part!r} component: give the path without it")
        if not _PATH_PART.match(part):
            bad = sorted({c for c in part if not _PATH_PART.match(c)})
            raise ValueError(f"{v!r} contains {', '.join(repr(c) for c in bad)}: a path here is letters, "
                             "digits and . _ + @ : - between slashes")
    return v


def _command(v: str) -> str:
    """A command xenpair runs as root: a bare name (found on PATH) or an absolute path."""
    if v.startswith("/"):
        return _abs_path(v)
    if not _COMMAND.match(v):
        raise ValueError(f"{v!r} is neither a command name (letters, digits, . _ + -) nor an absolute path")
    return v


Safe = Annotated[str, AfterValidator(_safe)]
Package = Annotated[str, AfterValidator(_matching(_PACKAGE, "a Debian package name"))]
PublicKey = Annotated[str, AfterValidator(_matching(_KEY, "an SSH public key line ('TYPE BASE64 [comment]')"))]
Host = Annotated[str, AfterValidator(_matching(_HOST, "a host name or address (optionally host::port)"))]
Locale = Annotated[str, AfterValidator(_matching(_LOCALE, "a locale such as en_US.UTF-8"))]
User = Annotated[str, AfterValidator(_matching(_USER, "a user name"))]
MailAddress = Annotated[str, AfterValidator(_matching(_MAIL, "a mail address (user or user@domain)"))]
AbsPath = Annotated[str, AfterValidator(_abs_path)]
Command = Annotated[str, AfterValidator(_command)]
FileName = Annotated[str, AfterValidator(_matching(_FILENAME, "a file name (no directory)"))]
Role = Literal["base", "monitoring", "backup-jail"]
CheckName = Annotated[str, AfterValidator(_matching(_CHECK_NAME, "an nrpe command name such as check_load"))]
PluginCall = Annotated[str, AfterValidator(_matching(_PLUGIN_CALL, "a plugin and its arguments, e.g. "
                                                                   "'check_load -w 15,10,5 -c 30,25,20'"))]

# the old hook's nrpe checks; ntp: check_ntp_time against chrony (which the role lets answer locally)
NRPE_CHECKS = {
    "check_users": "check_users -w 5 -c 10",
    "check_load": "check_load -w 15,10,5 -c 30,25,20",
    "check_zombie_procs": "check_procs -w 5 -c 10 -s Z",
    "check_total_procs": "check_procs -w 200 -c 250",
    "check_all_disks": "check_disk -w 20% -c 10% -X tmpfs -X devtmpfs",
    "check_ssh": "check_ssh localhost",
    "check_smtp": "check_smtp -H localhost",
    "check_ntp": "check_ntp_time -H 127.0.0.1 -w 0.5 -c 1",
}

BASE_PACKAGES = ["logwatch", "apticron", "fail2ban", "sysnews", "chrony", "plocate", "mc", "unp", "bzip2",
                 "etckeeper", "git", "bsd-mailx"]


class Icinga(BaseModel):
    """dom0 registration: a host object per new machine, its name added to the hostgroup's members."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objects_dir: AbsPath | None = None           # e.g. /etc/icinga/objects; None: no registration
    hostgroups_file: FileName = "hostgroups_icinga.cfg"
    hosting_hostgroup: Safe = "hosting-servers"    # a hostgroup_name, matched exactly
    backup_hostgroup: Safe = "backup-servers"
    host_template: Safe = "generic-host"


class BasePackages(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hosting: list[Package] = BASE_PACKAGES + ["restic"]      # restic: the hosting machine backs up
    backup: list[Package] = BASE_PACKAGES


class Roles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hosting: list[Role] = []
    backup: list[Role] = []
    # base
    packages: BasePackages = BasePackages()
    locale: Locale = "en_US.UTF-8"
    root_alias: MailAddress = "root@example.de"
    git_name: Safe = "root"
    git_email: MailAddress = "root@example.de"
    login_mail: bool = True
    # monitoring
    monitoring_packages: list[Package] = ["munin-node", "nagios-nrpe-server", "monitoring-plugins-basic",
                                          "exim4", "rkhunter"]
    monitoring_servers: list[IPv4Address] = [IPv4Address("192.168.150.2")]
    nrpe_checks: dict[CheckName, PluginCall] = NRPE_CHECKS
    smarthost: Host = "192.168.150.1"
    mail_domain: Host = "example.de"
    # backup-jail
    backup_keys: list[PublicKey] = []
    backup_user: User = "backupuser"
    backup_dir: AbsPath = "/backup"
    backup_packages: list[Package] = ["restic"]
    backup_warn_hours: Annotated[int, Strict()] = Field(default=26, ge=1, le=24 * 365)
    backup_crit_hours: Annotated[int, Strict()] = Field(default=50, ge=1, le=24 * 365)
    icinga: Icinga = Icinga()

    @model_validator(mode="after")
    def _consistent(self) -> "Roles":
        for kind in ("hosting", "backup"):
            names = getattr(self, kind)
            if len(set(names)) != len(names):
                raise ValueError(f"roles.{kind} lists a role twice: {names}")
        if "backup-jail" in self.hosting:
            raise ValueError("backup-jail is for backup machines: list it under roles.backup")
        if "backup-jail" in self.backup and not self.backup_keys:
            raise ValueError("backup-jail needs roles.backup_keys: the hosting dom0's public key(s) "
                             "that may log in to the SFTP jail")
        if "check_backup" in self.nrpe_checks:
            raise ValueError("nrpe_checks: check_backup is the monitoring role's own (backup machines with "
                             "backup-jail); use backup_warn_hours / backup_crit_hours")
        if self.backup_dir == "/":
            raise ValueError("backup_dir must not be /")
        if not 0 < self.backup_warn_hours < self.backup_crit_hours:
            raise ValueError("need 0 < backup_warn_hours < backup_crit_hours")
        return self

    def all_default_packages(self) -> set[str]:
        """What the shipped roles install with this config (the tests record these once); sudo:
        the monitoring role adds it on backup machines for the backup check."""
        return {*self.packages.hosting, *self.packages.backup, *self.monitoring_packages,
                *self.backup_packages, "sudo"}
