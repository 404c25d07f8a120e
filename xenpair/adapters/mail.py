"""Sending one mail: through the local sendmail (`-t -oi`), or SMTP with none/STARTTLS/implicit TLS,
an optional client certificate (mutual TLS) and an optional login."""

from __future__ import annotations

import socket
import ssl
import subprocess
from email.message import EmailMessage

from xenpair.config import Mail
from xenpair.errors import Failed


def message(settings: Mail, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.from_ or f"xenpair@{socket.getfqdn()}"
    msg["To"] = ", ".join(settings.recipients)
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def send(settings: Mail, msg: EmailMessage, timeout: float = 60.0) -> None:
    if settings.transport == "sendmail":
        _sendmail(settings.sendmail, msg, timeout)
    else:
        _smtp(settings, msg, timeout)


def _sendmail(command: str, msg: EmailMessage, timeout: float) -> None:
    try:
        r = subprocess.run([command, "-t", "-oi"], input=msg.as_bytes(), capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise Failed(f"{command} not found", hint="install an MTA (e.g. msmtp-mta) or use mail.transport: smtp") \
            from None
    except subprocess.TimeoutExpired:
        raise Failed(f"{command} did not finish within {timeout:g} s") from None
    if r.returncode != 0:
        raise Failed(f"{command} -t -oi exited {r.returncode}: {r.stderr.decode(errors='replace').strip()[:300]}")


def _context(s) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=s.ca_file)
    if s.cert_file:
        ctx.load_cert_chain(s.cert_file, s.key_file)
    return ctx


def _smtp(settings: Mail, msg: EmailMessage, timeout: float) -> None:
    import smtplib

    s = settings.smtp
    try:
        if s.tls == "implicit":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=timeout, context=_context(s))
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=timeout)
        with client:
            if s.tls == "starttls":
                client.starttls(context=_context(s))
            if s.username:
                with open(s.password_file) as f:
                    client.login(s.username, f.read().strip())
            client.send_message(msg)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as e:
        raise Failed(f"mail to {', '.join(settings.recipients)} via {s.host}:{s.port} ({s.tls}) failed: {e}") from None
