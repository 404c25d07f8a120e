"""The mail with the install summaries, after a build (create, rebuild, repair)."""

from __future__ import annotations

from xenpair.adapters import mail
from xenpair.core.build import PairResult
from xenpair.core.site import Site
from xenpair.errors import Failed

SUBJECTS = {"create": "the new systems are ready", "rebuild": "the rebuilt system is ready",
            "repair": "the repaired system is ready"}


def mail_body(site: Site, result: PairResult) -> str:
    with_passwords = site.config.mail.include_root_passwords
    lines = [f"Pair {result.name}: package {result.tier}, address number {result.n} ({result.action}).", ""]
    for kind, built in result.machines.items():
        spec = built.spec
        lines.append(f"{kind.capitalize()} machine {spec.fqdn} on {built.host}: "
                     + ("built" if built.ok else f"FAILED ({built.problem})"))
        lines.append(f"  internal IP {spec.ip}" + (f", external IP {spec.external_ip}" if spec.external_ip else ""))
        if built.summary:
            sm = built.summary
            lines += ["", "Installation Summary", "---------------------",
                      f"Hostname        :  {sm.hostname}", f"Distribution    :  {sm.distribution}",
                      f"MAC Address     :  {sm.mac}", f"IP Address(es)  :  {' '.join(sm.ips) or 'dynamic'}"]
            lines += [f"SSH Fingerprint :  {f['fingerprint']} ({f['algorithm']})" for f in sm.ssh_fingerprints]
            lines.append("Root Password   :  " + ((sm.root_password or "N/A") if with_passwords else
                                                  "(left out: mail.include_root_passwords is false)"))
        lines.append("")
    for kind in result.kept:
        lines.append(f"{kind.capitalize()} machine: kept as it was.")
    if result.run_log:
        lines.append(f"Full output: {result.run_log} on the hosting dom0.")
    return "\n".join(lines) + "\n"


def add_mail_step(plan, site: Site, hosting_fqdn: str) -> None:
    """After the build: one mail with the install summaries. A failure is a warning only."""
    m = site.config.mail
    action = plan.title.split()[0]
    subject = f"{hosting_fqdn} \u2013 {SUBJECTS.get(action, 'the systems are ready')}"

    def send() -> None:
        result = plan.result
        if not any(b.ok for b in result.machines.values()):
            return
        result.mail = {"to": m.recipients, "subject": subject, "sent": False, "problem": None}
        try:
            mail.send(m, mail.message(m, subject, mail_body(site, result)))
            result.mail["sent"] = True
        except Failed as e:
            result.mail["problem"] = str(e)

    plan.add(f"mail the install summaries to {', '.join(m.recipients)} ({m.transport}"
             + ("" if m.include_root_passwords else ", without root passwords") + ")",
             {"mail": {"to": m.recipients, "subject": subject, "transport": m.transport}}, send)
