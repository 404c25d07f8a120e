"""The job queue in the database, and the worker that carries jobs out with xenpair's core.

* claim(): a conditional UPDATE (state queued -> running): of two workers asking at once, exactly
  one gets the job.
* While a job runs, one thread of its worker writes the heartbeat and the new log lines every
  `web.heartbeat` seconds (the build threads only append to a list). A worker that dies
  (SIGKILL, power loss) stops beating: reap() marks its job failed after three missed beats,
  says so in the log, and names `xenpair repair NAME` — the registry shows the pair's state.
* run(): the very plan/apply the CLI runs (no shelling out), under the same registry lock.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone

from xenpair.cli.progress import PlainProgress
from xenpair.web.models import Job
from xenpair.web.orders import audit

MISSED_BEATS = 3


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(worker: str) -> Job | None:
    for pk in Job.objects.filter(state="queued").order_by("id").values_list("pk", flat=True)[:20]:
        now = timezone.now()
        if Job.objects.filter(pk=pk, state="queued").update(state="running", worker=worker, claimed=now,
                                                            heartbeat=now) == 1:
            return Job.objects.get(pk=pk)
    return None


def reap(heartbeat: float) -> list[int]:
    """Fail the running jobs whose worker stopped beating; returns their ids."""
    limit = timezone.now() - timedelta(seconds=heartbeat * MISSED_BEATS)
    failed = []
    for job in Job.objects.filter(state="running", heartbeat__lt=limit):
        note = (f"\nworker {job.worker} stopped during this job (no heartbeat since {job.heartbeat:%H:%M:%S} "
                f"UTC). {_repair(job)}.\n")
        if Job.objects.filter(pk=job.pk, state="running", heartbeat=job.heartbeat).update(
                state="failed", finished=timezone.now(), log=job.log + note) == 1:
            failed.append(job.pk)
    return failed


def _repair(job: Job) -> str:
    return (f"The pair's state is in the registry (xenpair show {job.name}); finish it with "
            f"'xenpair repair {job.name}'")


class JobLog(PlainProgress):
    """The Progress the core reports to, with the CLI's own wording (cli.progress), kept as the
    job's log lines instead of printed."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def _say(self, kind: str, text: str) -> None:
        self.add(f"[{kind}] {text}")

    def add(self, line: str) -> None:
        with self._lock:                 # both builds report from their own threads
            self.lines.append(f"{timezone.now():%H:%M:%S} {line}")

    def take(self) -> list[str]:
        with self._lock:
            out, self.lines = self.lines, []
        return out


def _beat(job: Job, log: JobLog, stop: threading.Event, every: float) -> None:
    try:
        while not stop.wait(every):
            _flush(job, log)
    finally:
        close_old_connections()


def _flush(job: Job, log: JobLog) -> None:
    from django.db.models import Value
    from django.db.models.functions import Concat

    lines = log.take()
    Job.objects.filter(pk=job.pk, state="running").update(
        heartbeat=timezone.now(), log=Concat("log", Value("".join(line + "\n" for line in lines))))


def run(job: Job, config_arg: str | None, heartbeat: float) -> Job:
    """Carry out one claimed job; its state ends done or failed, with the log and the result."""
    from xenpair.core.site import open_site
    from xenpair.errors import XenpairError

    log = JobLog()
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(job, log, stop, heartbeat), daemon=True)
    beat.start()
    state, result = "failed", None
    site = None
    try:
        site = open_site(config_arg)
        result = _without_passwords(_carry_out(site, job, log))
        state = "done" if result is None or result.get("ok", True) else "failed"
        log.add("done" if state == "done" else f"failed: {result.get('state') or result.get('stopped_at')}")
    except KeyboardInterrupt as e:       # SIGTERM (systemctl stop) or Ctrl-C: the core stopped the builds
        log.add(f"failed: the worker was stopped ({e}). {_repair(job)}")
        raise
    except XenpairError as e:
        log.add(f"failed: {e}")
    except Exception as e:       # the job's log says what, the worker goes on with the next job
        log.add(f"failed: {type(e).__name__}: {e}")
    finally:
        stop.set()
        beat.join()
        if site is not None:
            site.close()
        _flush(job, log)
        Job.objects.filter(pk=job.pk).update(state=state, result=result, finished=timezone.now())
        audit(None, job.action, job.name, None, f"job {job.pk} {state} (worker {job.worker})")
    job.refresh_from_db()
    return job


def _without_passwords(value):
    """The result as stored in the web database: never a root password (the mail has them, as
    configured; the pages never show one)."""
    if isinstance(value, dict):
        return {k: _without_passwords(v) for k, v in value.items() if k != "root_password"}
    if isinstance(value, list):
        return [_without_passwords(v) for v in value]
    return value


def _carry_out(site, job: Job, log: JobLog) -> dict | None:
    """What the job's action means in the core's terms (the CLI's commands do the same)."""
    from xenpair.core.plan import apply
    from xenpair.core.ready import plan_wait
    from xenpair.core.validate import check_ssh_keys

    p = job.params
    keys = tuple(check_ssh_keys(p["ssh_keys"], f"job {job.pk}")) if p.get("ssh_keys") else ()
    wait = p.get("wait")
    if wait == 0:                               # 0: the site's ready.timeout
        wait = site.config.ready.timeout
    if job.action == "create":
        from xenpair.core.create import apply_replanning, plan_create

        _recheck_allowance(job)

        def plan():                 # again when another build took the address meanwhile
            return plan_create(site, p["package"], job.name, p.get("external_ip"), log, start=bool(p.get("start")),
                               mail=p.get("mail", True), wait=wait, authorized_keys=keys)

        return apply_replanning(plan(), plan).to_dict()
    if job.action == "rebuild":                 # the hosting machine only: the backups stay
        from xenpair.core.query import show_pair
        from xenpair.core.rebuild import plan_rebuild

        tier = show_pair(site, job.name)[0].tier
        return apply(plan_rebuild(site, tier, job.name, None, log, stop=True, start=p.get("start", True),
                                  mail=p.get("mail", True), wait=wait, authorized_keys=keys)).to_dict()
    if job.action == "destroy":
        from xenpair.core.destroy import plan_destroy

        keep = bool(p.get("keep_backup", True))
        _power(site, job, log, "stop", ("hosting",) if keep else ("hosting", "backup"), quiet=True)
        result = apply(plan_destroy(site, job.name, keep_backup=keep)).to_dict()
        if not keep:
            from xenpair.web.models import Pair

            Pair.objects.filter(name=job.name).delete()
        return result
    if job.action in ("start", "stop"):
        result = {"ok": True, job.action: _power(site, job, log, job.action, ("hosting",))}
        result["ok"] = not any(result[job.action].values())
        if job.action == "start" and result["ok"] and wait:
            ready = apply(plan_wait(site, job.name, wait, log, kinds=["hosting"])).to_dict()
            result |= {"ok": ready.pop("ok"), "ready": {k: v for k, v in ready.items() if k != "name"}}
        return result
    raise ValueError(f"job action {job.action!r} is not carried out by this worker")


def _power(site, job: Job, log: JobLog, action: str, kinds: tuple[str, ...], quiet: bool = False) -> dict:
    from xenpair.core.lifecycle import power

    outcome = power(site, job.name, action, kinds)
    for kind, problem in outcome.items():
        if problem and quiet:
            log.add(f"[{kind}] {action}: {problem} (going on)")
        else:
            log.add(f"[{kind}] {action} FAILED: {problem}" if problem else f"[{kind}] {action}: done")
    return outcome


def _recheck_allowance(job: Job) -> None:
    """The allowance may have shrunk since the approval."""
    from xenpair.errors import BadInput
    from xenpair.web.models import Customer
    from xenpair.web.orders import allowance_problem

    p = job.params
    if p.get("customer") is not None:
        customer = Customer.objects.get(pk=p["customer"])
        problem = allowance_problem(customer, p["package"], bool(p.get("external_ip")), exclude=job)
        if problem:
            raise BadInput(f"not built: {problem}")


def work(config_arg: str | None, heartbeat: float, once: bool = False, poll: float = 1.0,
         stop: threading.Event | None = None) -> int:
    """Claim and run jobs until STOP is set (or, with ONCE, until none is queued); returns how many ran."""
    stop = stop or threading.Event()
    me, done = worker_id(), 0
    while not stop.is_set():
        reap(heartbeat)
        job = claim(me)
        if job is None:
            if once:
                break
            stop.wait(poll)
            continue
        run(job, config_arg, heartbeat)
        done += 1
    return done
