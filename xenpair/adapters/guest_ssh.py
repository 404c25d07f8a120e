"""A new guest's sshd: which host key does it prove it holds?

Only the key exchange is done (paramiko's Transport, no login): the server signs the exchange
with its host key, so a key seen here is one the answering machine really holds. One algorithm
per exchange, so that each key the install summary listed can be checked on its own.
The socket comes from the dom0 that runs the guest (hosts' `connect`): only the dom0s reach the
internal networks.
"""

from __future__ import annotations

import base64
import hashlib
import socket

# the summary's algorithm name (from `ssh-keygen -lf` on the dom0) -> the SSH key types it covers
KEY_TYPES = {
    "ED25519": ("ssh-ed25519",),
    "ECDSA": ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"),
    "RSA": ("rsa-sha2-512", "rsa-sha2-256"),
}
PREFERENCE = ("ED25519", "ECDSA", "RSA")


class NotOffered(Exception):
    """The server answered, but has no host key of the asked algorithm."""


class NoAnswer(Exception):
    """Nothing (yet) answers SSH there: refused, unreachable, timed out, no banner. Worth retrying."""


def host_key(sock, algorithm: str, timeout: float) -> tuple[str, str, set[str]]:
    """(key type, base64 blob, fingerprints in every form ssh-keygen prints) of the host key the
    server at SOCK proves it holds, for ALGORITHM (ED25519, ECDSA, RSA)."""
    import paramiko

    transport = paramiko.Transport(sock)
    try:
        transport.get_security_options().key_types = KEY_TYPES[algorithm]
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        try:
            transport.start_client(timeout=timeout)
        except paramiko.IncompatiblePeer as e:
            if "host key" in str(e):
                raise NotOffered(algorithm) from None
            raise NoAnswer(f"SSH negotiation failed: {e}") from None
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise NoAnswer(_reason(e)) from None
        key = transport.get_remote_server_key()
        blob = key.asbytes()
        return key.get_name(), base64.b64encode(blob).decode(), fingerprints(blob)
    finally:
        transport.close()


def fingerprints(blob: bytes) -> set[str]:
    """SHA256:... as OpenSSH >= 6.8 prints it, and the older MD5 colon hex (with and without MD5:)."""
    sha = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    md5 = ":".join(f"{b:02x}" for b in hashlib.md5(blob, usedforsecurity=False).digest())
    return {sha, md5, "MD5:" + md5}


def _reason(e: BaseException) -> str:
    if isinstance(e, socket.timeout | TimeoutError):
        return "no SSH banner in time"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__
