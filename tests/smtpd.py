"""A real SMTP server (aiosmtpd) on 127.0.0.1, optionally with STARTTLS, implicit TLS or mutual TLS,
and a test CA made with openssl for it."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca(d: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost, and a client certificate."""
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=xenpair test CA",
        "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=xenpair test {name}",
            "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        run("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem"))
    return {n: d / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def server_context(ca: dict[str, Path], require_client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(ca["server.pem"], ca["server.key"])
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(ca["ca.pem"])
    return ctx


def start(mode: str = "none", ca: dict[str, Path] | None = None,
          login: tuple[str, str] | None = None) -> tuple[Controller, Inbox, int]:
    """mode: none | starttls | implicit | mutual (implicit TLS that requires a client certificate).
    login: (user, password) the server requires (AUTH PLAIN/LOGIN, only after TLS)."""
    inbox, port = Inbox(), free_port()
    kwargs: dict = {}
    if login:
        from aiosmtpd.smtp import AuthResult

        def authenticate(server, session, envelope, mechanism, data):
            ok = (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)
    if mode == "starttls":
        kwargs.update(tls_context=server_context(ca), require_starttls=True)
    elif mode in ("implicit", "mutual"):
        kwargs.update(ssl_context=server_context(ca, require_client_cert=mode == "mutual"))
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
    controller.start()
    return controller, inbox, port
