"""Ready means ready: a started machine counts as delivered only when its sshd, reached from the
dom0 that runs it, proves it holds the host key its install summary printed.

A different key is a failure at once (a wrong guest on the address, or someone in the middle),
never retried and never a warning. Nothing is trusted on first use: the keys written to
known_hosts are the ones checked against the summary.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime

from xenpair.adapters import guest_ssh, known_hosts
from xenpair.adapters.registry import now, short_name
from xenpair.core.build import KINDS, NoProgress, Progress, pair_rows
from xenpair.core.plan import Plan
from xenpair.core.site import Site
from xenpair.core.validate import check_name
from xenpair.errors import BadInput

CONNECT_TIMEOUT = 5.0       # one TCP connection attempt
HANDSHAKE_TIMEOUT = 20.0    # banner and key exchange (a guest still booting can be slow)
RETRY_PAUSE = 1.0


@dataclass
class Target:
    kind: str
    fqdn: str
    address: str
    host_keys: list[dict]          # [{algorithm, fingerprint}] as the install summary printed them
    since: float                   # epoch seconds of the start (or of the wait, if unknown)


@dataclass
class Ready:
    kind: str
    fqdn: str
    address: str
    host: str
    ok: bool = False
    ready_after_s: float | None = None     # from the start to ready
    waited_s: float = 0.0
    attempts: int = 0
    verified: list[dict] = field(default_factory=list)      # [{algorithm, fingerprint, type}]
    known_hosts: str | None = None         # the file the verified keys were written to, on the dom0
    mismatch: bool = False
    problem: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class WaitResult:
    """`xenpair wait`: per machine, ready or why not."""

    name: str
    machines: dict[str, Ready] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.machines) and all(r.ok for r in self.machines.values())

    def to_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, **{k: r.to_dict() for k, r in self.machines.items()}}


def targets(site: Site, name: str, kinds: list[str], since: dict[str, float] | None = None) -> dict[str, Target]:
    """What to wait for: each machine's address and recorded host keys. SINCE: kind -> epoch
    seconds of its start; otherwise the start xenpair recorded, or now."""
    snap = site.registry.read()
    pair = snap.find(name)
    out = {}
    for kind in kinds:
        row = getattr(pair, kind) if pair else None
        if row is None or row.state == "destroyed":
            continue
        entry = site.registry.machines(kind).get(row.name, {})
        start = (since or {}).get(kind) or _epoch(entry.get("started")) or time.time()
        out[kind] = Target(kind, row.name, row.address, entry.get("host_keys", []), start)
    return out


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def wait_for(site: Site, todo: dict[str, Target], timeout: float, progress: Progress) -> dict[str, Ready]:
    """Wait for every machine of TODO at once; record each outcome; write known_hosts."""
    deadline = time.monotonic() + timeout
    stop = threading.Event()           # Ctrl-C: the waiting threads give up at their next try
    with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
        futures = {kind: pool.submit(_wait_one, site, t, deadline, timeout, progress, stop)
                   for kind, t in todo.items()}
        try:
            results = {kind: f.result() for kind, f in futures.items()}
        except BaseException:
            stop.set()
            raise
    _record(site, todo, results)
    return results


def _wait_one(site: Site, t: Target, deadline: float, timeout: float, progress: Progress,
              stop: threading.Event) -> Ready:
    host = site.reach(t.kind)
    progress.waiting(t.kind, t.fqdn, host.name)
    r = Ready(t.kind, t.fqdn, t.address, host.name)
    began = time.monotonic()
    try:
        _check(site, host, t, r, deadline, timeout, stop)
    finally:
        r.waited_s = round(time.monotonic() - began, 1)
        progress.ready(t.kind, r.ok, r.ready_after_s or r.waited_s, r.problem)
    if r.ok and site.config.ready.known_hosts:
        path = site.config.ready.known_hosts
        known_hosts.replace(host, path, [t.fqdn, t.address],
                            [known_hosts.line([t.fqdn, t.address], k["type"], k["blob"]) for k in r.verified])
        r.known_hosts = path
    for k in r.verified:
        k.pop("blob", None)
    return r


def _check(site: Site, host, t: Target, r: Ready, deadline: float, timeout: float, stop: threading.Event) -> None:
    expected = {k["algorithm"]: k["fingerprint"] for k in t.host_keys}
    usable = [a for a in guest_ssh.PREFERENCE if a in expected]
    if not usable:
        listed = ", ".join(sorted(expected)) or "none"
        r.problem = (f"{t.fqdn}: no host key to check against (its install summary listed: {listed}); "
                     "xenpair never trusts a key on first use. Rebuild it with xenpair (the keys are recorded "
                     "at build time), or compare the key on its console by hand")
        return
    port = site.config.ready.ssh_port
    first, last = usable[0], "none yet"
    while True:
        remaining = deadline - time.monotonic()
        if stop.is_set():
            r.problem = f"{t.fqdn}: interrupted while waiting"
            return
        if remaining <= 0:
            ts = site.config.toolstack
            ask = (f"'gnt-instance info {t.fqdn}' and 'gnt-instance console {t.fqdn}' on the master"
                   if site.config.backend == "ganeti" else f"'{ts} list {t.fqdn}' and '{ts} console {t.fqdn}' "
                                                           f"on {host.name}")
            r.problem = (f"{t.fqdn} was not ready within {timeout:g} s: {r.attempts} SSH connection(s) to "
                         f"{t.address}:{port} from {host.name}, expecting the {first} host key "
                         f"{expected[first]}; the last attempt: {last}. Is it running, and what does its "
                         f"console say ({ask})?")
            return
        r.attempts += 1
        try:
            got = _key(host, t.address, port, first, remaining)
        except guest_ssh.NotOffered:
            _mismatch(r, t, first, expected[first], f"no {first} host key at all")
            return
        except (guest_ssh.NoAnswer, OSError) as e:
            last = _why(e)
            stop.wait(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))
            continue
        if expected[first] not in got[2]:
            _mismatch(r, t, first, expected[first], _sha(got[2]))
            return
        break
    r.ok = True
    r.ready_after_s = round(time.time() - t.since, 1)
    r.verified.append({"algorithm": first, "fingerprint": expected[first], "type": got[0], "blob": got[1]})
    # the other keys of the summary, for known_hosts: each checked the same way
    for algorithm in usable[1:]:
        try:
            got = _key(host, t.address, port, algorithm, max(1.0, deadline - time.monotonic()))
        except (guest_ssh.NotOffered, guest_ssh.NoAnswer, OSError):
            continue        # sshd need not offer every type it has a file for; the first one proved it
        if expected[algorithm] not in got[2]:
            r.ok, r.ready_after_s = False, None
            _mismatch(r, t, algorithm, expected[algorithm], _sha(got[2]))
            return
        r.verified.append({"algorithm": algorithm, "fingerprint": expected[algorithm], "type": got[0],
                           "blob": got[1]})


def _key(host, address: str, port: int, algorithm: str, remaining: float):
    sock = host.connect(address, port, timeout=min(CONNECT_TIMEOUT, remaining))
    return guest_ssh.host_key(sock, algorithm, min(HANDSHAKE_TIMEOUT, max(1.0, remaining)))


def _mismatch(r: Ready, t: Target, algorithm: str, expected: str, offered: str) -> None:
    r.mismatch = True
    r.problem = (f"{t.fqdn} at {t.address} did NOT present the host key its install summary printed: expected "
                 f"{algorithm} {expected}, offered {offered}. Whatever answers there is not the machine xenpair "
                 "built (a wrong guest on that address, or someone in the middle); nothing was written to "
                 "known_hosts")


def _sha(prints: set[str]) -> str:
    return next(p for p in sorted(prints) if p.startswith("SHA256:"))


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and not isinstance(e, ConnectionError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


def _record(site: Site, todo: dict[str, Target], results: dict[str, Ready]) -> None:
    if not results:
        return
    name = short_name(next(iter(todo.values())).fqdn)
    with site.registry.locked() as locked:
        for kind, row in pair_rows(locked, name, results).items():
            r = results[kind]
            if row.name == r.fqdn:
                locked.note_machine(row, ready=now() if r.ok else None, ready_after_s=r.ready_after_s,
                                    problem=r.problem)


def plan_wait(site: Site, name: str, timeout: float | None, progress: Progress | None = None,
              kinds: list[str] | None = None) -> Plan:
    """`xenpair wait NAME`: both machines (those not destroyed; or KINDS), from this dom0 and the backup dom0."""
    check_name(name)
    if site.registry.read().find(name) is None:
        raise BadInput(f"no pair named {name!r} in the registry", hint="'xenpair list' shows the pairs")
    limit = timeout or site.config.ready.timeout
    todo = targets(site, name, list(KINDS) if kinds is None else kinds)
    plan = Plan(f"wait for pair {name}", {"name": name, "timeout_s": limit,
                                          "machines": {k: asdict(t) for k, t in todo.items()}},
                result=WaitResult(name))
    add_wait_step(plan, site, todo, limit, progress or NoProgress(), into=plan.result.machines)
    return plan


def add_wait_step(plan: Plan, site: Site, todo: dict[str, Target] | None, timeout: float, progress: Progress,
                  into: dict | None = None, name: str | None = None) -> None:
    """Wait until each machine is ready. TODO None: the machines the create/rebuild run started
    (plan.result.started), found when the step runs."""
    kh = site.config.ready.known_hosts

    def run() -> None:
        nonlocal todo
        result = plan.result
        if todo is None:
            started = [k for k in KINDS if k in result.started and result.started[k] is None]
            todo = targets(site, name, started, result.started_at)
        out = into if into is not None else result.ready
        out.update(wait_for(site, todo, timeout, progress))

    what = " and ".join(t.fqdn for t in todo.values()) if todo is not None else "the started machines"
    plan.add(f"wait up to {timeout:g} s until {what} answer SSH with the host keys of their install summaries"
             + (f"; write them to {kh} on their dom0s" if kh else ""),
             {"wait": {"timeout_s": timeout, "known_hosts": kh}}, run)


def add_forget_keys_steps(plan: Plan, site: Site, specs: dict) -> None:
    """destroy, rebuild: the machines' lines leave known_hosts on their dom0s (their keys are gone)."""
    kh = site.config.ready.known_hosts
    for kind, spec in specs.items() if kh else ():
        host, names = site.reach(kind), [spec.fqdn, str(spec.ip)]
        plan.add(f"remove {' and '.join(names)} from {kh} on host {host.name}",
                 {"known_hosts": {kind: {"host": host.name, "file": kh, "names": names}}},
                 lambda host=host, names=names: known_hosts.replace(host, kh, names, []))
