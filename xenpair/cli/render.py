"""Printing results for people (rich) or as JSON. Results arrive as plain dicts."""

from __future__ import annotations

import sys
from typing import Any


def _console(stderr: bool = False):
    from rich.console import Console

    # emoji=False: a MAC such as 00:16:3E:ab:71:F9 must not print as "00:16:3E🆎71:F9"
    return Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=True)


def _json(obj: Any) -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _machine_lines(machines: dict[str, dict]) -> list[str]:
    out = []
    for kind, m in machines.items():
        ips = m["ip"] + (f", {m['external_ip']} (external)" if m.get("external_ip") else "")
        out.append(f"  {kind:<8} {m['fqdn']} on {m.get('host', 'local')}: {m['ram_mb']} MB RAM, "
                   f"{m['vcpus']} vCPU(s), {m['disk_gb']} GB disk, {m['swap_mb']} MB swap; IPs {ips}"
                   + (f"; roles {', '.join(m['roles'])}" if m.get("roles") else ""))
    return out


def plan(p: dict, as_json: bool, to_stderr: bool = False) -> None:
    if as_json and not to_stderr:
        _json({"dry_run": True, "plan": p})
        return
    import shlex

    con = _console(stderr=to_stderr)
    s = p["summary"]
    con.print(f"[bold]Plan: {p['title']}[/]" + (f" (package {s['tier']}, address number {s['n']})"
                                                 if "tier" in s else ""))
    for kind in s.get("kept", []):
        con.print(f"  {kind} machine: kept as it is")
    for line in _machine_lines(s.get("machines", {})):
        con.print(line, markup=False)
    for kind, image in s.get("images", {}).items():
        con.print(f"  {kind} machine installs from {image['install']}", markup=False)
        if image["warning"]:
            con.print(f"  [yellow]warning:[/] {image['warning']}", highlight=False)
    for i, step in enumerate(p["steps"], 1):
        con.print(f"{i}. {step['title']}")
        for reg in step.get("registry", {}).values():
            con.print(f"   {reg['file']} += {reg['row']}", markup=False)
        for kind, cmd in step.get("commands", {}).items():
            con.print(f"   [{kind}@{cmd['host']}] {shlex.join(cmd['argv'])}", markup=False)
            for path in cmd.get("overwrites", []):
                con.print(f"   [{kind}] overwrites {path}", markup=False)
            for path in cmd.get("deletes", []):
                con.print(f"   [{kind}] deletes {path}", markup=False)
        for f, state in step.get("files", {}).items():
            con.print(f"   {f}: {state}", markup=False)
        for kind, reg in step.get("icinga", {}).items():
            if reg.get("remove"):
                con.print(f"   [{kind}@{reg['host']}] deletes {reg['object']}; takes the machine out of every "
                          f"members line in {reg['hostgroups']}", markup=False)
            else:
                con.print(f"   [{kind}@{reg['host']}] writes {reg['object']}; adds the machine to "
                          f"{reg['hostgroup']!r} in {reg['hostgroups']}", markup=False)
        if "cfg_patch" in step:
            for line in step["cfg_patch"]["diff"].splitlines():
                con.print("   " + line, markup=False)


def nothing_to_do(name: str, message: str, as_json: bool) -> None:
    if as_json:
        _json({"name": name, "changed": False, "message": message})
    else:
        print(f"{name}: {message}")


def done(message: str, result: dict, as_json: bool) -> None:
    if as_json:
        _json(result)
    else:
        print(message)


def destroy_warning(p: dict, rebuild: bool = False) -> list[str]:
    s = p["summary"]
    lines = [f"This {'REBUILDS' if rebuild else 'DESTROYS'} pair {s['name']} (address number {s['n']}); "
             "deleted on each host:"]
    for kind, d in s["deletes"].items():
        lines.append(f"  {kind} machine {d['fqdn']} on host {d['host']}:")
        lines += [f"    {path}" for path in d["paths"]] or ["    (no files left)"]
        if kind == "backup":
            lines.append("    THE CUSTOMER'S BACKUPS ON IT ARE LOST")
    for kind in s.get("kept", []):
        lines.append(f"  the {kind} machine is kept" + (" with its backups" if kind == "backup" else ""))
    return lines


def destroyed(r: dict, as_json: bool) -> None:
    if as_json:
        _json(r)
        return
    kept = f"; kept: {', '.join(r['kept'])}" if r["kept"] else ""
    freed = f"; address number {r['n']} is free again" if r["freed"] else ""
    print(f"pair {r['name']}: destroyed {' and '.join(r['destroyed']) or 'nothing'}{kept}{freed}")


def pair_result(r: dict, as_json: bool) -> None:
    """The result of create or repair: both install summaries, or what failed and what to do."""
    if as_json:
        _json(r)
        return
    con = _console()
    for kind in r["kept"]:
        con.print(f"\n{kind} machine kept as it is (created before)")
    for kind in ("hosting", "backup"):
        if kind not in r:
            continue
        m = r[kind]
        con.print()
        if not m["ok"]:
            con.print(f"[bold red]{kind} machine {m['fqdn']} FAILED[/] on {m['host']}: {m['problem']}")
            con.print(f"last {len(m['output_tail'])} lines of its output:")
            for line in m["output_tail"]:
                con.print("  " + line, markup=False)
            con.print(f"full log: {m['log']}", markup=False)
            continue
        sm = m["summary"] or {}
        con.print(f"[bold]{kind} machine[/] {m['fqdn']} built in {m['elapsed_s']} s on {m['host']}")
        rows = [("Hostname", sm.get("hostname")), ("Distribution", sm.get("distribution")),
                ("MAC Address", sm.get("mac")), ("IP Address(es)", " ".join(sm.get("ips", [])))]
        rows += [("SSH Fingerprint", f"{f['fingerprint']} ({f['algorithm']})")
                 for f in sm.get("ssh_fingerprints", [])]
        rows += [("Root Password", sm.get("root_password") or "N/A"), ("Xen cfg", m["cfg"]),
                 ("Log", m["log"])]
        for label, value in rows:
            con.print(f"  {label:<16}: {value}", markup=False)
    patch = r.get("cfg_patch")
    if patch:
        con.print(f"external IP on its own vif in {patch['file']}: " + ("changed (original kept as "
                  f"{patch['backup']})" if patch["changed"] else patch.get("message", "unchanged")), markup=False)
        for line in patch["diff"].splitlines():
            con.print("  " + line, markup=False)
    for kind, reg in r.get("registered", {}).items():
        if reg["problem"]:
            con.print(f"[bold yellow]warning[/]: {kind} machine not registered with Icinga on {reg['host']}: "
                      f"{reg['problem']}", highlight=False)
        else:
            con.print(f"{kind} machine registered with Icinga on {reg['host']}: {reg['object']}, hostgroup "
                      f"{reg['hostgroup']!r}" + ("" if reg.get("member_added") else " (already a member)"),
                      markup=False)
    m = r.get("mail")
    if m:
        if m["sent"]:
            con.print(f"install summaries mailed to {', '.join(m['to'])}", markup=False)
        else:
            con.print(f"[bold yellow]warning[/]: the mail to {', '.join(m['to'])} was not sent — the summaries "
                      f"are above and in {r['run_log']}", highlight=False)
            con.print(f"  {m['problem']}", markup=False)
    for kind, problem in r.get("started", {}).items():
        con.print(f"{kind} machine " + (f"[bold red]did not start[/]: {problem}" if problem else "started"))
    _ready_lines(con, r.get("ready", {}))
    stopped = r.get("stopped_at")
    if stopped:
        con.print(f"[bold red]stopped at[/] '{stopped['step']}':", highlight=False)
        con.print("  " + stopped["error"].replace("\n", "\n  "), markup=False)
        for title in stopped["not_done"]:
            con.print(f"  not done: {title}", markup=False)
    con.print()
    if r["run_log"]:
        con.print(f"full output of this run: {r['run_log']}", markup=False)
    verb = {"create": "created", "repair": "repaired", "rebuild": "rebuilt"}.get(r.get("action"), "created")
    if r["ok"]:
        con.print(f"[bold green]pair {r['name']} {verb}[/] (package {r['tier']}, address number {r['n']})")
    elif stopped and not r["next"]:
        con.print(f"pair {r['name']} {verb} and recorded as {r['state']}, but the run stopped before its last "
                  "step(s) (see above): do them by hand once the cause is fixed.", markup=False)
    elif not r["next"] and any(not m["ok"] for m in r.get("ready", {}).values()):
        con.print(f"pair {r['name']} {verb} and started, but [bold red]not ready[/] (see above); the build stands. "
                  f"Once the cause is fixed: [bold]xenpair wait {r['name']}[/]")
    elif not r["next"]:
        con.print(f"pair {r['name']} {verb}, but a machine did not start (see above); the build stands.")
    else:
        con.print(f"[bold red]pair {r['name']} is incomplete: {r['state']}[/]. The registry records it "
                  "as failed; the machine that was built is kept.")
        con.print(f"To finish the pair once the cause is fixed: [bold]{r['next']}[/]")


def _ready_lines(con, ready: dict) -> None:
    for kind, m in ready.items():
        if m["ok"]:
            keys = ", ".join(f"{k['algorithm']} {k['fingerprint']}" for k in m["verified"])
            con.print(f"[bold green]{kind} machine ready[/] {m['ready_after_s']:g} s after its start: "
                      f"{m['fqdn']} ({m['address']}) presented {keys}", highlight=False)
            if m["known_hosts"]:
                con.print(f"  verified key(s) written to {m['known_hosts']} on {m['host']}", markup=False)
        else:
            from rich.markup import escape

            con.print(f"[bold red]{kind} machine NOT READY[/]: {escape(m['problem'])}", highlight=False)


def wait_result(r: dict, as_json: bool) -> None:
    if as_json:
        _json(r)
        return
    con = _console()
    machines = {k: v for k, v in r.items() if k in ("hosting", "backup")}
    _ready_lines(con, machines)
    if r["ok"]:
        con.print(f"[bold green]pair {r['name']} ready[/]")
    elif not machines:
        con.print(f"pair {r['name']}: no machine to wait for (destroyed?)")
    else:
        con.print(f"pair {r['name']} is [bold red]not ready[/]")


_COLUMNS = (("NAME", "Name"), ("TIER", "Tier"), ("HOSTING IP", "Hosting IP"), ("BACKUP IP", "Backup IP"),
            ("EXTERNAL IP", "External IP"), ("STATE", "State"), ("CREATED", "Created"),
            ("HOSTING FQDN", "Hosting FQDN"), ("BACKUP FQDN", "Backup FQDN"))


def _cells(p, machines: dict) -> tuple[str, ...]:
    """One table row from a registry Pair (and the machines' states: the state says 'ready')."""
    from xenpair.core.query import readiness

    h, b = p.hosting, p.backup
    ready = readiness(p, machines) if machines else None
    return (p.name, p.tier, h.address if h else "-", b.address if b else "-",
            (h.external_ip if h else "") or "-", p.state + (f", {ready}" if ready else ""),
            (h or b).created or "-", h.name if h else "-", b.name if b else "-")


# `list` fits the terminal (80 columns when stdout is no terminal), as ps and virsh list do: the
# FQDNs (NAME.<domain>) only with --wide; then CREATED goes; then the widest of these is cut
_NARROW = ("NAME", "TIER", "HOSTING IP", "BACKUP IP", "EXTERNAL IP", "STATE", "CREATED")
_CUTTABLE = ("NAME", "STATE", "TIER")
_MIN_CUT = 6


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in rows) + "\n"


def _fit(rows: list[tuple[str, ...]], width: int) -> list[tuple[str, ...]]:
    """The narrow columns of ROWS, cut to WIDTH; widths are worked out first, the rows made once."""
    titles = [title for title, _ in _COLUMNS]
    cols = [titles.index(t) for t in _NARROW]
    widths = {i: max(len(r[i]) for r in rows) for i in cols}

    def total() -> int:
        return sum(widths[i] for i in cols) + 2 * (len(cols) - 1)

    if total() > width:
        cols.remove(titles.index("CREATED"))
    cut: dict[int, int] = {}
    while total() > width:
        i = max((titles.index(t) for t in _CUTTABLE), key=lambda c: widths[c])
        if widths[i] <= _MIN_CUT:
            break
        cut[i] = widths[i] = max(_MIN_CUT, widths[i] - (total() - width))
    if not cut:
        return [tuple(r[i] for i in cols) for r in rows]
    return [tuple(r[i][: cut[i] - 1] + "~" if i in cut and len(r[i]) > cut[i] else r[i] for i in cols)
            for r in rows]


def pairs(items: list, machines: dict, as_json: bool, wide: bool = False) -> None:
    # plain aligned text, like `xl list`: greppable, and no rich import for a long list
    if as_json:
        from xenpair.core.query import pair_view

        _json([pair_view(p, machines) for p in items])
        return
    rows = [tuple(title for title, _ in _COLUMNS)] + [_cells(p, machines) for p in items]
    if not wide:
        import shutil

        width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80
        rows = _fit(rows, width)
    sys.stdout.write(_table(rows))
    if not items:
        print("(no pairs in the registry)", file=sys.stderr)


def pair(p, machines: dict, as_json: bool) -> None:
    from xenpair.core.query import pair_view

    view = pair_view(p, machines)
    if as_json:
        _json(view)
        return
    out = [f"{label:<13}: {cell}" for (_, label), cell in zip(_COLUMNS, _cells(p, machines), strict=True)]
    for kind in ("hosting", "backup"):
        m = view[kind]
        if m is None:
            continue
        label = kind.capitalize()
        out += [f"{label + ' key':<13}: {k['fingerprint']} ({k['algorithm']})" for k in m["host_keys"]]
        if m["ready"]:
            out.append(f"{label + ' ready':<13}: {m['ready']}" + (f" ({m['ready_after_s']:g} s after its start)"
                                                                 if m["ready_after_s"] is not None else ""))
        elif m["problem"]:
            out.append(f"{label + ' ready':<13}: NOT READY: {m['problem']}")
        elif m["started"]:
            out.append(f"{label + ' started':<13}: {m['started']} (not waited for: xenpair wait {p.name})")
    sys.stdout.write("\n".join(out) + "\n")


def checks(items: list[dict], as_json: bool) -> None:
    if as_json:
        _json(items)
        return
    for c in items:
        first, *rest = c["detail"].splitlines() or [""]
        mark = "FAIL" if not c["ok"] else "warn" if c.get("warning") else "ok  "
        sys.stdout.write(f"{mark}  {c['check']}: {first}\n")
        for line in rest:
            sys.stdout.write(f"        {line}\n")
    failed = sum(not c["ok"] for c in items)
    warned = sum(bool(c["ok"] and c.get("warning")) for c in items)
    sys.stdout.write(f"{len(items) - failed - warned} ok, {warned} warning(s), {failed} failed\n")


def ip_result(r: dict, as_json: bool) -> None:
    if as_json:
        _json(r)
        return
    print(f"{r['name']}: external IP {r['old'] or '(none)'} -> {r['new'] or '(none)'}"
          + ("" if r["changed"] else f" ({r['cfg']} was already so)"))
    if r["diff"]:
        sys.stdout.write(r["diff"])
    print(f"note: {r['note']}")


def power(name: str, action: str, outcome: dict, as_json: bool) -> None:
    if as_json:
        _json({"name": name, "action": action, "machines": outcome})
        return
    done = "started" if action == "start" else "stopped"
    for kind, problem in outcome.items():
        print(f"{kind}: {action} FAILED: {problem}" if problem else f"{kind}: {done}")


def roles_synced(r: dict, as_json: bool) -> None:
    if as_json:
        _json(r)
        return
    roles_dir = r["dir"]
    for host, files in r["hosts"].items():
        changed = {f: what for f, what in files.items() if what != "unchanged"}
        print(f"{host}: {roles_dir}: " + ("all current" if not changed else
                                          ", ".join(f"{f} {what}" for f, what in changed.items())))
