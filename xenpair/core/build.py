"""Building machines of a pair at the same time, and recording their state: shared by create and repair."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from xenpair.adapters import machine_state
from xenpair.adapters import xen_create_image as xci
from xenpair.adapters.hosts import release_mounts
from xenpair.adapters.registry import now
from xenpair.adapters.runlog import RunLog
from xenpair.core.machines import MachineSpec
from xenpair.core.site import Site
from xenpair.errors import BadInput

KINDS = ("hosting", "backup")
TAIL_LINES = 20


class Progress(Protocol):
    """What the builds report while they run (the CLI shows it live or as plain lines)."""

    def started(self, kind: str, fqdn: str, host: str) -> None: ...
    def step(self, kind: str, step: str) -> None: ...
    def finished(self, kind: str, ok: bool, elapsed: float, problem: str | None) -> None: ...
    def note(self, kind: str, message: str) -> None: ...
    def waiting(self, kind: str, fqdn: str, host: str) -> None: ...
    def ready(self, kind: str, ok: bool, seconds: float, problem: str | None) -> None: ...


class NoProgress:
    def started(self, kind, fqdn, host): pass
    def step(self, kind, step): pass
    def finished(self, kind, ok, elapsed, problem): pass
    def note(self, kind, message): pass
    def waiting(self, kind, fqdn, host): pass
    def ready(self, kind, ok, seconds, problem): pass


@dataclass
class BuildResult:
    spec: MachineSpec
    host: str
    ok: bool = False
    exit_code: int | None = None
    elapsed: float = 0.0
    problem: str | None = None
    summary: xci.Summary | None = None
    log: str | None = None
    tail: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**self.spec.describe(), "host": self.host, "ok": self.ok,
                "exit_code": self.exit_code, "elapsed_s": round(self.elapsed, 1),
                "problem": self.problem, "log": self.log,
                "summary": self.summary.to_dict() if self.summary else None,
                "output_tail": self.tail if not self.ok else []}


@dataclass
class PairResult:
    """The machines one create or repair run built; `kept` are the ones it left alone."""

    action: str
    name: str
    tier: str
    n: int
    machines: dict[str, BuildResult]
    run_log: str | None = None
    kept: list[str] = field(default_factory=list)
    started: dict[str, str | None] = field(default_factory=dict)    # kind -> problem, None = started
    started_at: dict[str, float] = field(default_factory=dict)       # kind -> epoch seconds of the start
    ready: dict = field(default_factory=dict)                        # kind -> core.ready.Ready (--wait)
    cfg_patch: dict | None = None                                    # the external IP's own vif
    registered: dict[str, dict] = field(default_factory=dict)        # kind -> Icinga registration
    mail: dict | None = None                                         # {to, sent, problem}
    stopped_at: dict | None = None        # a step after the build that failed: {step, error, not_done}

    def must_report(self) -> bool:
        """Machines were built: whatever fails later, the summaries and the log are shown."""
        return bool(self.machines)

    @property
    def ok(self) -> bool:
        return (all(m.ok for m in self.machines.values()) and not any(self.started.values())
                and all(r.ok for r in self.ready.values()) and self.stopped_at is None)

    @property
    def state(self) -> str:
        failed = [r for r in KINDS if r in self.machines and not self.machines[r].ok]  # the start is no state
        return "created" if not failed else "failed (" + " and ".join(failed) + ")"

    @property
    def next_command(self) -> str | None:
        if any(not m.ok for m in self.machines.values()):
            return f"xenpair repair {self.name}"
        return None

    def to_dict(self) -> dict:
        return {"action": self.action, "name": self.name, "tier": self.tier, "n": self.n, "state": self.state,
                "ok": self.ok, "run_log": self.run_log, "kept": self.kept, "next": self.next_command,
                "started": self.started, "cfg_patch": self.cfg_patch, "mail": self.mail,
                "registered": self.registered, "stopped_at": self.stopped_at,
                "ready": {k: r.to_dict() for k, r in self.ready.items()},
                **{r: m.to_dict() for r, m in self.machines.items()}}


def check_log_dir(site: Site) -> None:
    """The run log holds the install summaries: its folder must be usable before anything is reserved."""
    from xenpair.adapters import runlog

    why = runlog.problem(site.config.log_dir)
    if why:
        raise BadInput(f"log_dir {site.config.log_dir}: {why}", where=f"{site.config_path or 'built-in defaults'}: "
                       "log_dir", hint="set log_dir in the config to a folder xenpair can write")


def build_machines(site: Site, name: str, specs: dict[str, MachineSpec],
                   progress: Progress) -> tuple[dict[str, BuildResult], str]:
    """Mark the machines 'creating', build them all at once, record 'created' or 'failed'.

    Returns the results and the path of this run's log. On Ctrl-C (or any crash) the builds
    are stopped, the machines recorded as failed, and the exception goes on.
    """
    log = RunLog(site.config.log_dir, name)
    try:
        for kind, spec in specs.items():
            log.write(kind, "argv", " ".join(spec.argv()))
        set_state(site, name, set(specs), "creating")
        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            futures = {kind: pool.submit(_build_one, site, spec, progress, log) for kind, spec in specs.items()}
            try:
                results = {kind: f.result() for kind, f in futures.items()}
            except BaseException:
                site.terminate_all()        # returns once every build's process group is gone
                pool.shutdown(wait=True)
                # a build can die between its own mount and our look at the mounts: look again now
                for kind, spec in specs.items():
                    release_mounts(site.hosts[kind], spec.storage_paths)
                set_state(site, name, set(specs), "failed")
                raise
        _record(site, name, results)
        return results, log.path
    finally:
        log.close()


def _build_one(site: Site, spec: MachineSpec, progress: Progress, log: RunLog) -> BuildResult:
    host = site.hosts[spec.kind]
    progress.started(spec.kind, spec.fqdn, host.name)
    current = [""]

    hide_password = not site.config.mail.include_root_passwords

    def on_line(stream: str, line: str) -> None:
        if hide_password and line.startswith("Root Password"):
            # xenpair's own log carries a root password only where the mail does too
            log.write(spec.kind, stream, "Root Password   :  (left out: mail.include_root_passwords is false)")
        else:
            log.write(spec.kind, stream, line)
        step = xci.step_of(line) if stream == "stdout" else None
        if step and step != current[0]:
            current[0] = step
            progress.step(spec.kind, step)

    limit = site.config.build_timeout
    if host.remote:
        limit = min(limit, site.config.backup.ssh.command_timeout)
    xci.keep_logs_private(host, spec.xci.log_dir)
    try:
        run = host.run(spec.argv(), on_line=on_line, timeout=limit)
    finally:
        xci.keep_logs_private(host, spec.xci.log_dir, spec.fqdn)
    problem = xci.problem(run.returncode, run.stdout, run.stderr)
    if run.timed_out:
        problem = f"xen-create-image did not finish within {limit:g} s and was stopped"
    result = BuildResult(spec, host.name, ok=problem is None, exit_code=run.returncode,
                         elapsed=run.elapsed, problem=problem,
                         log=xci.logfile(run.stdout) or f"{spec.xci.log_dir}/{spec.fqdn}.log")
    if problem is None:
        result.summary = xci.parse_summary(run.stdout)
    else:
        result.tail = (run.stdout + run.stderr).splitlines()[-TAIL_LINES:]
        for mount in release_mounts(host, spec.storage_paths):
            progress.note(spec.kind, f"unmounted {mount}, which xen-create-image left behind")
    progress.finished(spec.kind, result.ok, run.elapsed, problem)
    return result


def _record(site: Site, name: str, results: dict[str, BuildResult]) -> None:
    """created or failed per machine; a built machine's host keys as its install summary printed
    them (what `wait` will insist on), a failed one's old record dropped."""
    with site.registry.locked() as locked:
        for kind, row in pair_rows(locked, name, results).items():
            res = results[kind]
            if res.ok:
                locked.mark(row, state="created", created=now())
                keys = [k for k in (res.summary.ssh_fingerprints if res.summary else [])
                        if machine_state.is_host_key(k)]        # not the "N/A" of a guest without keys
                locked.note_machine(row, host_keys=keys, built=now(), started=None, ready=None,
                                    ready_after_s=None, problem=None)
            else:
                locked.mark(row, state="failed")
                locked.forget_machine(row)


def pair_rows(locked, name: str, kinds) -> dict:
    """kind -> the pair's registry row, for those of KINDS it has (read under the lock)."""
    pair = locked.find(name)
    rows = {kind: getattr(pair, kind) if pair else None for kind in kinds}
    return {kind: row for kind, row in rows.items() if row is not None}


def set_state(site: Site, name: str, kinds: set[str], state: str) -> None:
    """Record STATE for the pair's rows of KINDS (the machines being built; others are untouched)."""
    if not kinds:
        return
    with site.registry.locked() as locked:
        for row in pair_rows(locked, name, kinds).values():
            locked.mark(row, state=state, **({"created": now()} if state == "created" else {}))
