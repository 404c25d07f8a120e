"""The summary mail through a real SMTP server (aiosmtpd on 127.0.0.1) and through a real sendmail
(Debian's msmtp-mta relaying to it); TLS with a test CA the tests make."""

from __future__ import annotations

import email
import json
import os
import shutil
from email import policy

import pytest

from tests import smtpd as smtp

SUBJECT = "web.hosting.example.de \u2013 the new systems are ready"


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def created(site, *extra: str) -> dict:
    r = site.run("create", "small", "web", "203.0.113.60", "--yes", "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def check_mail(raw: bytes, res: dict, passwords: bool = True) -> None:
    msg = parsed(raw)
    assert msg["Subject"] == SUBJECT
    body = msg.get_content()
    for role in ("hosting", "backup"):
        sm = res[role]["summary"]
        assert f"Hostname        :  {sm['hostname']}" in body
        assert sm["ssh_fingerprints"][0]["fingerprint"] in body
        assert (sm["root_password"].encode() in raw) == passwords
    assert "internal IP 192.168.20.2, external IP 203.0.113.60" in body
    assert "internal IP 192.168.30.2" in body


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return smtp.make_ca(tmp_path_factory.mktemp("ca"))


def test_plain_smtp(tiny_site, mailbox):
    inbox, _ = mailbox
    before = len(inbox.messages)
    res = created(tiny_site)
    assert res["mail"] == {"to": ["root@hosting.example.de"], "subject": SUBJECT, "sent": True, "problem": None}
    mail_from, rcpt, raw = inbox.messages[before]
    assert (mail_from, rcpt) == ("xenpair@test.example.de", ["root@hosting.example.de"])
    check_mail(raw, res)


@pytest.mark.parametrize("mode", ["starttls", "implicit", "mutual"])
def test_tls_modes(tiny_site, ca, mode):
    controller, inbox, port = smtp.start(mode, ca)
    try:
        s = {"host": "localhost", "port": port, "tls": "starttls" if mode == "starttls" else "implicit",
             "ca_file": str(ca["ca.pem"])}
        if mode == "mutual":
            s.update(cert_file=str(ca["client.pem"]), key_file=str(ca["client.key"]))
        tiny_site.config["mail"].update(smtp=s, to=["ops@example.de", "root"])
        tiny_site.write_config()
        res = created(tiny_site)
        assert res["mail"]["sent"], res["mail"]
        _, rcpt, raw = inbox.messages[-1]
        assert rcpt == ["ops@example.de", "root"]
        check_mail(raw, res)
    finally:
        controller.stop()


def test_mutual_tls_without_a_client_certificate_is_a_warning(tiny_site, ca):
    controller, inbox, port = smtp.start("mutual", ca)
    try:
        tiny_site.config["mail"]["smtp"] = {"host": "localhost", "port": port, "tls": "implicit",
                                            "ca_file": str(ca["ca.pem"])}
        tiny_site.write_config()
        r = tiny_site.run("create", "small", "web", "--yes")
        assert r.returncode == 0, r.stderr                              # the pair stays created
        assert "warning: the mail to root@hosting.example.de was not sent" in r.stdout
        assert "the summaries are above and in" in r.stdout
        assert inbox.messages == []
        assert json.loads(tiny_site.run("show", "web", "--json").stdout)["state"] == "created"
    finally:
        controller.stop()


def test_sendmail_transport_through_msmtp(tiny_site, mailbox, tmp_path, monkeypatch):
    assert shutil.which("sendmail", path="/usr/sbin"), "msmtp-mta is installed by make test"
    inbox, port = mailbox
    home = tmp_path / "home"
    home.mkdir()
    rc = home / ".msmtprc"              # msmtp reads $HOME/.msmtprc: relay to the test's SMTP server
    rc.write_text(f"account default\nhost 127.0.0.1\nport {port}\nfrom xenpair@test.example.de\n"
                  "auth off\ntls off\n")
    os.chmod(rc, 0o600)
    monkeypatch.setenv("HOME", str(home))
    tiny_site.config["mail"] = {"to": "root@hosting.example.de", "transport": "sendmail",
                                "sendmail": "/usr/sbin/sendmail"}
    tiny_site.write_config()
    before = len(inbox.messages)
    res = created(tiny_site)
    assert res["mail"]["sent"], res["mail"]
    _, rcpt, raw = inbox.messages[before]
    assert rcpt == ["root@hosting.example.de"]
    check_mail(raw, res)


def test_without_root_passwords(tiny_site, mailbox):
    inbox, _ = mailbox
    tiny_site.config["mail"]["include_root_passwords"] = False
    tiny_site.write_config()
    before = len(inbox.messages)
    res = created(tiny_site)
    raw = inbox.messages[before][2]
    check_mail(raw, res, passwords=False)
    assert b"left out: mail.include_root_passwords is false" in raw
    log = open(res["run_log"]).read()
    for role in ("hosting", "backup"):
        assert res[role]["summary"]["root_password"] not in log      # not in xenpair's own log either


def test_no_mail(tiny_site, mailbox):
    inbox, _ = mailbox
    before = len(inbox.messages)
    res = created(tiny_site, "--no-mail")
    assert res["mail"] is None and len(inbox.messages) == before


def test_starttls_with_login(tiny_site, ca, tmp_path):
    controller, inbox, port = smtp.start("starttls", ca, login=("xenpair", "s3cret pass"))
    try:
        secret = tmp_path / "smtp-password"
        secret.write_text("s3cret pass\n")
        secret.chmod(0o600)
        tiny_site.config["mail"]["smtp"] = {"host": "localhost", "port": port, "tls": "starttls",
                                            "ca_file": str(ca["ca.pem"]), "username": "xenpair",
                                            "password_file": str(secret)}
        tiny_site.write_config()
        res = created(tiny_site)
        assert res["mail"]["sent"], res["mail"]
        check_mail(inbox.messages[-1][2], res)
        secret.write_text("wrong\n")                                   # a refused login: a warning only
        r = tiny_site.run("create", "small", "web2", "--yes", "--json")
        assert r.returncode == 0 and not json.loads(r.stdout)["mail"]["sent"]
        assert "535" in json.loads(r.stdout)["mail"]["problem"]
    finally:
        controller.stop()
