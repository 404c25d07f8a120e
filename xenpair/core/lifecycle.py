"""Changes to an existing pair that do not rebuild it: its external IP, starting and stopping it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from xenpair.adapters import toolstack, xencfg
from xenpair.adapters.registry import now
from xenpair.core.build import KINDS, PairResult, Progress, pair_rows
from xenpair.core.external import taken_macs
from xenpair.core.guests import machine_spec
from xenpair.core.plan import Plan
from xenpair.core.site import Site
from xenpair.core.validate import check_external_ip, check_name
from xenpair.errors import BadInput, Failed

GUEST_NOTE = ("the guest's own network config is not changed: edit its /etc/network/interfaces (eth1) "
              "or rebuild the hosting machine (xenpair create PACKAGE NAME --overwrite)")


def _pair(site: Site, name: str):
    check_name(name)
    pair = site.registry.read().find(name)
    if pair is None or pair.hosting is None:
        raise BadInput(f"no pair named {name!r} with a hosting machine in the registry",
                       hint="'xenpair list' shows the pairs")
    return pair


def plan_ip(site: Site, name: str, new_ip: str | None) -> Plan:
    """`ip set` (NEW_IP) or `ip remove` (None): the hosting cfg's vifs, then the registry row."""
    pair = _pair(site, name)
    cfg = site.config
    old = pair.hosting.external_ip or None
    if new_ip is not None:
        others = {ip: who for ip, who in site.registry.read().external_ips().items() if who != pair.hosting.name}
        new_ip = str(check_external_ip(new_ip, cfg, others))
    if cfg.backend == "ganeti":
        from xenpair.core import ganeti_changes

        return ganeti_changes.plan_ip(site, pair, new_ip)
    spec = machine_spec(site, pair, "hosting")
    try:
        text = Path(spec.cfg_path).read_text()
    except OSError as e:
        raise Failed(f"cannot read {spec.cfg_path}: {e.strerror}", hint="is the hosting machine built?") from None
    # the same IP again is a no-op (move_external_ip is idempotent); another one replaces the old
    new_text = xencfg.remove_external_ip(text, old, spec.cfg_path) if old and old != new_ip else text
    if new_ip:
        mac = xencfg.new_mac(taken_macs(site))
        new_text = xencfg.move_external_ip(new_text, new_ip, mac, cfg.external.bridge, spec.cfg_path)
    change = xencfg.diff(text, new_text, spec.cfg_path)
    plan = Plan(f"{'set' if new_ip else 'remove'} the external IP of {name}",
                {"name": name, "tier": pair.tier, "n": pair.n, "old": old, "new": new_ip, "note": GUEST_NOTE})

    def write_cfg() -> None:
        if new_text != text:
            if Path(spec.cfg_path).read_text() != text:
                raise Failed(f"{spec.cfg_path} changed while planning", hint="run the command again")
            xencfg.write_with_backup(spec.cfg_path, new_text)

    def write_row() -> None:
        with site.registry.locked() as locked:
            locked.mark(locked.find(name).hosting, external_ip=new_ip or "")
        plan.result = IpResult(name, old, new_ip, spec.cfg_path, new_text != text, change)

    plan.add(f"edit {spec.cfg_path} (keep .bak)" if change else f"{spec.cfg_path}: already as wanted",
             {"cfg_patch": {"file": spec.cfg_path, "diff": change}}, write_cfg)
    plan.add(f"record external IP {new_ip or '(none)'} in the registry", {"row": "hosting"}, write_row)
    return plan


@dataclass
class IpResult:
    name: str
    old: str | None
    new: str | None
    cfg: str
    changed: bool        # the cfg file was edited
    diff: str
    note: str = GUEST_NOTE

    def to_dict(self) -> dict:
        return asdict(self)


def power(site: Site, name: str, action: str, kinds: tuple[str, ...] = KINDS) -> dict[str, str | None]:
    """Start (`xl create CFG`) or stop (`xl shutdown -w`) both machines (or KINDS), each on its own host.

    Returns kind -> problem (None when it worked); one failing does not stop the other.
    """
    pair = _pair(site, name)
    out: dict[str, str | None] = {}
    if site.config.backend == "ganeti":
        from xenpair.core import ganeti_changes

        out = ganeti_changes.power(site, pair, action, kinds)
        record_started(site, name, [k for k, p in out.items() if p is None], running=action == "start")
        return out
    for kind in kinds:
        row = getattr(pair, kind)
        if row is None or row.state == "destroyed":
            continue
        spec, host = machine_spec(site, pair, kind), site.hosts[kind]
        try:
            if action == "start":
                toolstack.start(host, site.config.toolstack, spec.cfg_path)
            else:
                toolstack.shutdown(host, site.config.toolstack, spec.fqdn)
            out[kind] = None
        except Failed as e:
            out[kind] = e.what
    record_started(site, name, [k for k, p in out.items() if p is None], running=action == "start")
    return out


def start_machines(site: Site, result: PairResult, progress: Progress) -> PairResult:
    """`xl create` each machine that was built, on its own host. A failed start undoes nothing."""
    for kind, built in result.machines.items():
        if built.ok:
            try:
                toolstack.start(site.hosts[kind], site.config.toolstack, built.spec.cfg_path)
                problem = None
                result.started_at[kind] = time.time()
            except Failed as e:
                problem = e.what
            result.started[kind] = problem
            progress.note(kind, f"start FAILED: {problem}" if problem else f"started {built.spec.fqdn}")
    record_started(site, result.name, [k for k, p in result.started.items() if p is None])
    return result


def record_started(site: Site, name: str, kinds: list[str], running: bool = True) -> None:
    """The start time in the machine state file (`wait` counts from it; RUNNING false: stopped,
    no start time); an older ready is void either way."""
    if not kinds:
        return
    with site.registry.locked() as locked:
        for row in pair_rows(locked, name, kinds).values():
            locked.note_machine(row, started=now() if running else None, ready=None, ready_after_s=None,
                                problem=None)


def add_start_step(plan, site: Site, specs, progress: Progress) -> None:
    """After the build step (which leaves its result in plan.result): start what was built."""
    plan.add(f"start {' and '.join(s.fqdn for s in specs.values())} ({site.config.toolstack} create)",
             {"commands": {r: {"host": site.hosts[r].name, "argv": [site.config.toolstack, "create", s.cfg_path]}
                           for r, s in specs.items()}},
             lambda: start_machines(site, plan.result, progress))
