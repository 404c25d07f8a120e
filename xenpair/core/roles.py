"""Site roles: which role scripts run in which machine, their environment, and keeping them on both dom0s.

xen-create-image takes one --roledir and one comma-separated --role list, and passes the same
--role-args to every role, so xenpair passes all role settings as XENPAIR_* environment
variables (an `env` in front of the argv, visible in the plan) and the role list in one --role.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources

from xenpair.adapters import files, icinga
from xenpair.config import Config
from xenpair.core.plan import Plan, Step
from xenpair.core.site import Site
from xenpair.errors import Failed

EXTERNAL_IP_ROLE = "xenpair-external-ip"
# every machine, last: its own SSH host keys (all types) and machine-id, whatever the install
# method copied; the install summary then lists exactly these keys (`xenpair wait` checks them)
IDENTITY_ROLE = "xenpair-identity"
# hosting machines whose customer gave SSH public keys: root's authorized_keys
AUTHORIZED_KEYS_ROLE = "xenpair-authorized-keys"
# every file xenpair keeps in roles_dir: the role scripts and what they use
SHIPPED = ("base", "monitoring", "backup-jail", EXTERNAL_IP_ROLE, AUTHORIZED_KEYS_ROLE, IDENTITY_ROLE,
           "xenpair-lib.sh", "check_backup_age")


@dataclass(frozen=True)
class RoleRun:
    roledir: str
    names: tuple[str, ...]
    env: tuple[tuple[str, str], ...]

    def argv_prefix(self) -> list[str]:
        return ["env", *(f"{k}={v}" for k, v in self.env)]

    def options(self) -> list[str]:
        return [f"--roledir={self.roledir}", f"--role={','.join(self.names)}"]


def for_machine(cfg: Config, kind: str, external_ip: bool, authorized_keys: tuple[str, ...] = ()) -> RoleRun:
    """The roles one machine gets (kind: hosting|backup): the site's, and xenpair's own.
    AUTHORIZED_KEYS (checked public keys) go to a hosting machine's root."""
    r = cfg.roles
    keys = authorized_keys if kind == "hosting" else ()
    names = ([EXTERNAL_IP_ROLE] if external_ip else []) + list(getattr(r, kind)) \
        + ([AUTHORIZED_KEYS_ROLE] if keys else []) + [IDENTITY_ROLE]
    env: dict[str, str] = {"XENPAIR_MACHINE": kind, "XENPAIR_HOST_KEY_TYPES": " ".join(cfg.ready.host_key_types)}
    if keys:
        env["XENPAIR_AUTHORIZED_KEYS"] = "\n".join(keys)
    if external_ip:
        env["XENPAIR_EXTERNAL_NETMASK"] = str(cfg.external.netmask)
        env["XENPAIR_EXTERNAL_GATEWAY"] = str(cfg.external.gateway or "")
    if "base" in names:
        env.update(XENPAIR_PACKAGES=" ".join(getattr(r.packages, kind)), XENPAIR_LOCALE=r.locale,
                   XENPAIR_ROOT_ALIAS=r.root_alias, XENPAIR_GIT_NAME=r.git_name, XENPAIR_GIT_EMAIL=r.git_email,
                   XENPAIR_LOGIN_MAIL="yes" if r.login_mail else "no")
    jail = "backup-jail" in names
    if "monitoring" in names:
        env.update(XENPAIR_MONITORING_PACKAGES=" ".join(r.monitoring_packages),
                   XENPAIR_MONITORING_SERVERS=" ".join(str(s) for s in r.monitoring_servers),
                   XENPAIR_NRPE_CHECKS="\n".join(f"{k}={v}" for k, v in r.nrpe_checks.items()),
                   XENPAIR_SMARTHOST=r.smarthost, XENPAIR_MAIL_DOMAIN=r.mail_domain,
                   XENPAIR_BACKUP_REPO=f"{r.backup_dir.rstrip('/')}/repo" if jail else "",
                   XENPAIR_BACKUP_WARN_HOURS=str(r.backup_warn_hours),
                   XENPAIR_BACKUP_CRIT_HOURS=str(r.backup_crit_hours))
    if jail:
        env.update(XENPAIR_BACKUP_USER=r.backup_user, XENPAIR_BACKUP_DIR=r.backup_dir.rstrip("/"),
                   XENPAIR_BACKUP_KEYS="\n".join(r.backup_keys),
                   XENPAIR_BACKUP_PACKAGES=" ".join(r.backup_packages))
    return RoleRun(cfg.roles_dir, tuple(names), tuple(env.items()))


def shipped() -> dict[str, bytes]:
    base = resources.files("xenpair") / "roles"
    return {name: (base / name).read_bytes() for name in SHIPPED}


def status(host, roles_dir: str) -> dict[str, str]:
    """Per shipped file on that dom0: ok, missing, stale (content differs) or mode (not 0755)."""
    want = {n: hashlib.sha256(b).hexdigest() for n, b in shipped().items()}
    out = {}
    for name, (digest, mode, executable) in files.state(host, roles_dir, list(want)).items():
        if digest is None:
            out[name] = "missing"
        elif digest != want[name]:
            out[name] = "stale"
        elif mode != "755" or not executable:
            out[name] = "mode"
        else:
            out[name] = "ok"
    return out


def sync(host, roles_dir: str) -> dict[str, str]:
    """Copy the shipped role files that are missing or differ to roles_dir on that dom0, mode 0755.

    Returns per file what was done: unchanged, added, updated, mode fixed."""
    before = status(host, roles_dir)
    content = shipped()
    done = {}
    for name, state in before.items():
        if state == "ok":
            done[name] = "unchanged"
            continue
        files.write(host, f"{roles_dir}/{name}", content[name], mode="0755")
        done[name] = {"missing": "added", "stale": "updated", "mode": "mode fixed"}[state]
    if any(v != "unchanged" for v in done.values()):
        bad = [n for n, s in status(host, roles_dir).items() if s != "ok"]
        if bad:     # xen-create-image silently skips a role it cannot execute (noexec mount?)
            raise Failed(f"role files in {roles_dir} on {host.name} are still not right after copying: "
                         f"{', '.join(bad)}", hint=f"check the file system of {roles_dir} there (noexec?)")
    return done


def dom0s_needing_roles(site: Site, specs: dict) -> dict[str, object]:
    """host name -> host, for every dom0 that builds a machine with roles."""
    out = {}
    for kind, spec in specs.items():
        if spec.roles is not None:
            host = site.hosts[kind]
            out.setdefault(host.name, host)
    return out


def add_sync_step(plan, site: Site, specs: dict) -> None:
    """First step of create/rebuild/repair when a machine gets roles: the role files on its dom0."""
    hosts = dom0s_needing_roles(site, specs)
    if not hosts:
        return
    roles_dir = site.config.roles_dir

    def sync_all() -> dict:
        return {name: sync(host, roles_dir) for name, host in hosts.items()}

    plan.steps.insert(0, Step(f"sync the role scripts to {roles_dir} on {', '.join(hosts)} (changed files only, "
                               "0755)", {"roles_sync": {"dir": roles_dir, "hosts": list(hosts)}}, sync_all))


def registrations(site: Site, specs: dict) -> dict[str, dict]:
    """kind -> what registering that machine with Icinga writes, for the machines that get it:
    an Icinga objects_dir is configured and the machine runs the monitoring role."""
    conf = site.config.roles.icinga
    if conf.objects_dir is None:
        return {}
    out = {}
    for kind, spec in specs.items():
        if spec.roles is None or "monitoring" not in spec.roles.names:
            continue
        out[kind] = {"host": site.hosts[kind].name,
                     "object": f"{conf.objects_dir}/{spec.fqdn}_icinga.cfg",
                     "hostgroups": f"{conf.objects_dir}/{conf.hostgroups_file}",
                     "hostgroup": getattr(conf, f"{kind}_hostgroup")}
    return out


def register(site: Site, spec, where: dict) -> dict:
    """Write the host object and add the machine to its hostgroup on its dom0; idempotent, .bak kept."""
    host = site.hosts[spec.kind]
    obj = icinga.host_object(spec.fqdn, str(spec.ip), site.config.roles.icinga.host_template)
    done = {**where, "problem": None}
    if files.read(host, where["object"]) != obj:
        files.write(host, where["object"], obj)
    text = files.read(host, where["hostgroups"])
    new = None if text is None else icinga.add_member(text, where["hostgroup"], spec.fqdn)
    if new is None:
        done["problem"] = (f"no hostgroup with hostgroup_name {where['hostgroup']!r} in {where['hostgroups']}"
                           if text is not None else f"{where['hostgroups']} does not exist")
    elif new != text:
        files.write(host, where["hostgroups"], new, backup=True)
        done["member_added"] = True
    else:
        done["member_added"] = False
    return done


def add_register_step(plan, site: Site, specs: dict) -> None:
    """After the build step: register the machines that were built (a problem is a warning)."""
    todo = registrations(site, specs)
    if not todo:
        return

    def run() -> None:
        result = plan.result
        for kind, where in todo.items():
            if kind in result.machines and result.machines[kind].ok:
                try:
                    result.registered[kind] = register(site, specs[kind], where)
                except Failed as e:
                    result.registered[kind] = {**where, "problem": e.what}

    names = " and ".join(specs[k].fqdn for k in todo)
    plan.add(f"register {names} with Icinga on its dom0 (host object; hostgroup members, .bak kept)",
             {"icinga": todo}, run)


def plan_sync(site: Site):
    """`xenpair roles sync`: the role files on both dom0s (once if they are the same host)."""
    roles_dir = site.config.roles_dir
    hosts = {}
    for kind in ("hosting", "backup"):
        host = site.hosts[kind]
        hosts.setdefault(host.name, host)
    current = {name: status(host, roles_dir) for name, host in hosts.items()}
    plan = Plan(f"sync the role scripts to {roles_dir}", {"dir": roles_dir, "status": current},
                result=SyncResult(roles_dir))
    for name, host in hosts.items():
        todo = {f: s for f, s in current[name].items() if s != "ok"}

        def run(host=host, name=name) -> None:
            plan.result.hosts[name] = sync(host, roles_dir)

        plan.add(f"{name}: " + (f"copy {', '.join(todo)}" if todo else "nothing to do, all current"),
                 {"host": name, "files": current[name]}, run)
    return plan


@dataclass
class SyncResult:
    """`roles sync`: per host, per file what was done (unchanged, added, updated, mode fixed)."""

    dir: str
    hosts: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"dir": self.dir, "hosts": self.hosts}


def add_unregister_steps(plan, site: Site, specs: dict) -> None:
    """destroy: for each machine with an Icinga host object on its dom0, remove the object and
    the machine's name from the hostgroups' members (.bak kept). Nothing when not configured."""
    conf = site.config.roles.icinga
    if conf.objects_dir is None:
        return
    for kind, spec in specs.items():
        host = site.hosts[kind]
        obj = f"{conf.objects_dir}/{spec.fqdn}_icinga.cfg"
        if files.read(host, obj) is None:
            continue
        groups = f"{conf.objects_dir}/{conf.hostgroups_file}"

        def run(host=host, obj=obj, groups=groups, fqdn=spec.fqdn) -> None:
            text = files.read(host, groups)
            if text is not None:
                new = icinga.remove_member(text, fqdn)
                if new != text:
                    files.write(host, groups, new, backup=True)
            host.run(["rm", "-f", "--", obj])

        plan.add(f"unregister {spec.fqdn} from Icinga on host {host.name}",
                 {"icinga": {kind: {"host": host.name, "object": obj, "hostgroups": groups, "remove": True}}},
                 run)
