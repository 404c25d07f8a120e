"""xenpair create [PACKAGE] [NAME] [EXTERNAL_IP] — scripted, or a wizard for whatever is missing."""

import sys
from typing import Annotated

import typer

from xenpair.cli.complete import package_names, pair_names
from xenpair.errors import BadInput, Refused

EPILOG = ("Fully scripted: xenpair create package2 customer42 203.0.113.10 --yes --start --json. "
          "Preview only: xenpair create 2 customer42 --dry-run. "
          "Rebuild: xenpair create 2 customer42 --overwrite [--rebuild-backup] [--stop]. "
          "On a terminal, whatever is missing is asked.")
SCRIPTED = "PACKAGE NAME, --no-external-ip or EXTERNAL_IP, --start or --no-start, --yes"


def create(
    ctx: typer.Context,
    package: Annotated[str | None, typer.Argument(
        help="Package tier from packages.yaml; a bare number N means packageN. Asked if missing.",
        show_default=False, autocompletion=package_names)] = None,
    name: Annotated[str | None, typer.Argument(
        help="Short machine name, one DNS label (a-z, 0-9, inner '-', at most 63): the machines "
             "become NAME.<hosting.domain> and NAME.<backup.domain>. Asked if missing.", show_default=False,
        autocompletion=pair_names)] = None,
    external_ip: Annotated[str | None, typer.Argument(
        help="Public IPv4 address for the hosting machine (a second --ip). Asked if missing, unless "
             "--no-external-ip.", show_default=False)] = None,
    no_external_ip: Annotated[bool, typer.Option(
        "--no-external-ip", help="The hosting machine gets no external IP (do not ask).")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask for confirmation (needed without a terminal).")] = False,
    start: Annotated[bool | None, typer.Option(
        "--start/--no-start", help="Start both machines afterwards with the toolstack (xl create). "
                                   "Asked on a terminal if neither is given.", show_default=False)] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="--wait or --wait=SECONDS (implies --start): then wait until each machine answers SSH on "
                       "its internal address with the host key its install summary printed, and write that key "
                       "to known_hosts on its dom0. Default limit: ready.timeout (300 s). Exit 1 unless both "
                       "are ready.")] = False,
    wait_seconds: Annotated[str | None, typer.Option(
        "--wait-seconds", hidden=True, help="What --wait=SECONDS passes on (click has no optional values).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Rebuild the existing pair NAME in place: same N, same external IP unless a new "
                            "one is given, --force. Only the hosting machine unless --rebuild-backup.")] = False,
    rebuild_backup: Annotated[bool, typer.Option(
        "--rebuild-backup", help="With --overwrite: rebuild the backup machine too. ITS BACKUPS ARE LOST.")] = False,
    stop: Annotated[bool, typer.Option(
        "--stop", help="With --overwrite: shut down a running guest first instead of refusing.")] = False,
    no_mail: Annotated[bool, typer.Option(
        "--no-mail", help="Do not mail the install summaries (mail: in the config).")] = False,
    ssh_key: Annotated[list[str] | None, typer.Option(
        "--ssh-key", metavar="FILE", help="Public key file(s) (*.pub, one key a line) for root's authorized_keys "
                                          "on the hosting machine; repeatable. Plain keys only: ed25519, ecdsa, "
                                          "RSA of 3072+ bits; no options or commands.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan (argv of both xen-create-image runs, registry rows, what a rebuild "
                          "deletes) and change nothing.")] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the plan or result as one JSON object on stdout; messages go to stderr.")] = False,
) -> None:
    """Create a hosting + backup pair: allocate N, build both machines at once, record them."""
    from xenpair.cli import progress, render
    from xenpair.core.create import apply_replanning, plan_create
    from xenpair.core.rebuild import plan_rebuild
    from xenpair.core.site import open_site
    from xenpair.core.validate import check_name

    if name is not None:
        check_name(name)            # before anything is read: a bad name changes nothing
    if rebuild_backup and not overwrite:
        raise BadInput("--rebuild-backup goes with --overwrite", hint="add --overwrite to rebuild the pair")
    keys = _read_keys(ssh_key or [])
    wait_limit = wait_limit_of(wait or wait_seconds is not None, wait_seconds, start)
    if wait_limit is not None:
        start = True
    site = open_site(ctx.obj["config"])
    ctx.call_on_close(site.close)
    # a scripted call (--yes) asks nothing optional; a preview on a terminal asks what the real run
    # would ask, so that its plan is the real one
    asking = not yes
    if package is None or name is None or (asking and (start is None or (external_ip is None and not no_external_ip))):
        answers = _wizard(site, package, name, external_ip, no_external_ip, start, overwrite, asking)
        package, name, external_ip, start, overwrite = answers
        if start and wait_limit is None:
            wait_limit = 0.0         # starting from the wizard means ready: wait, with the default limit
    if wait_limit == 0.0:
        wait_limit = site.config.ready.timeout
    shown = progress.for_output(json_out)

    def make_plan():
        if overwrite:
            return plan_rebuild(site, package, name, external_ip, shown, rebuild_backup, stop, bool(start),
                                mail=not no_mail, wait=wait_limit, authorized_keys=keys)
        return plan_create(site, package, name, external_ip, shown, start=bool(start), mail=not no_mail,
                           wait=wait_limit, authorized_keys=keys)

    plan = make_plan()
    if dry_run:
        render.plan(plan.to_dict(), json_out)
        return
    if not yes:
        _confirm(plan.to_dict(), overwrite, json_out)
    def replan():
        if not yes:
            raise BadInput("another xenpair took the planned address while you were deciding",
                           hint="run the command again; nothing was created")
        return make_plan()

    with shown:
        result = apply_replanning(plan, replan)
    render.pair_result(result.to_dict(), json_out)
    if not result.ok:
        raise typer.Exit(130 if (result.stopped_at or {}).get("interrupted") else 1)


MAX_WAIT_S = 86400


def _read_keys(paths: list[str]) -> tuple[str, ...]:
    """The keys of the --ssh-key files, checked (before anything is read of the site)."""
    from xenpair.core.validate import check_ssh_keys

    keys: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read(65536)
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"--ssh-key {path}: cannot read it ({getattr(e, 'strerror', None) or e})",
                           hint="give the path of a public key file, e.g. ~/.ssh/id_ed25519.pub") from None
        keys += [k for k in check_ssh_keys(text, path) if k not in keys]
    return tuple(keys)


def wait_limit_of(wait: bool, seconds: str | None, start: bool | None) -> float | None:
    """None: no waiting; 0.0: wait with the config's ready.timeout; else the limit in seconds."""
    if not wait:
        return None
    if start is False:
        raise BadInput("--wait goes with starting the machines, not with --no-start",
                       hint="leave out --no-start (--wait starts them), or leave out --wait")
    if seconds is None or seconds == "":
        return 0.0
    try:
        limit = float(seconds)
    except ValueError:
        limit = -1.0
    if not 0 < limit <= MAX_WAIT_S:            # also NaN
        raise BadInput(f"--wait={seconds}: not a number of seconds between 1 and {MAX_WAIT_S}",
                       hint="e.g. --wait=600, or --wait for the config's ready.timeout")
    return limit


def _wizard(site, package, name, external_ip, no_external_ip, start, overwrite, asking):
    """Ask, on a terminal, exactly what the command line left out.

    PACKAGE and NAME are required: without a terminal their absence is an error. The external IP
    and the start are optional: without a terminal (or with --yes) they default to none / no.
    """
    from xenpair.cli import prompts
    from xenpair.core.validate import external_ip_problem, name_problem

    if not prompts.interactive():
        missing = [what for what, gone in (("PACKAGE", package is None), ("NAME", name is None)) if gone]
        if missing:
            raise BadInput(f"missing {' and '.join(missing)}, and no terminal to ask on",
                           hint=f"pass them for a scripted call: {SCRIPTED} (see xenpair create --help)")
        return package, name, external_ip, start, overwrite
    if package is None:
        package = prompts.select("Package:", [(_tier_line(n, t), n) for n, t in site.tiers.items()])
    if name is None:
        name = prompts.text("Machine name:", validate=lambda t: True if name_problem(t) is None
                            else _short(f"{name_problem(t)} ({NAME_SHORT})"))
    pair = site.registry.read().find(name)
    if pair is not None and not overwrite and asking:
        overwrite = prompts.confirm(f"{name} exists (address number {pair.n}, package {pair.tier}). Rebuild it?",
                                    default=False)
        if not overwrite:
            raise Refused("nothing changed: the pair exists and you chose not to rebuild it")
    if external_ip is None and not no_external_ip and not overwrite and asking:
        if prompts.confirm("Does the hosting machine get an external IP?", default=False):
            cfg, used = site.config, site.registry.read().external_ips()

            def problem(t: str):
                return None if not t.strip() else external_ip_problem(t.strip(), cfg, used)

            answer = prompts.text("External IP (empty for none):",
                                  validate=lambda t: True if problem(t) is None else problem(t))
            external_ip = answer.strip() or None
    if start is None and asking:
        no_toolstack = _toolstack_missing(site)
        if no_toolstack:
            sys.stderr.write(f"Not offering to start the machines: {no_toolstack}\n")
            start = False
        else:
            start = prompts.confirm("Start the machines afterwards?", default=False)
    return package, name, external_ip, start, overwrite


NAME_SHORT = "one DNS label: a-z, 0-9, inner -"


def _short(message: str) -> str:
    """A prompt's validation line is cut at the terminal's width: keep it within it."""
    import shutil

    width = max(40, shutil.get_terminal_size((80, 24)).columns - 2)
    return message if len(message) <= width else message[: width - 3] + "..."


def _toolstack_missing(site) -> str | None:
    from xenpair.adapters import toolstack

    if site.config.backend == "ganeti":        # Ganeti starts its instances
        return None
    for kind in ("hosting", "backup"):
        problem = toolstack.missing(site.hosts[kind], site.config.toolstack)
        if problem:
            return problem
    return None


def _tier_line(name: str, tier) -> str:
    h, b = tier.hosting, tier.backup
    return (f"{name:<10} hosting {h.ram_mb} MB / {h.vcpus} vCPU / {h.disk_gb} GB   "
            f"backup {b.ram_mb} MB / {b.vcpus} vCPU / {b.disk_gb} GB")


def _confirm(plan: dict, overwrite: bool, json_out: bool) -> None:
    from xenpair.cli import prompts, render

    prompts.require_terminal("for confirmation", "--yes to run unattended, or --dry-run to only see the plan")
    render.plan(plan, json_out, to_stderr=json_out)
    if overwrite:
        prompts.type_to_confirm(plan["summary"]["name"], render.destroy_warning(plan, rebuild=True))
    elif not prompts.confirm("Create these machines?", default=False):
        raise Refused("nothing created: you answered no")
