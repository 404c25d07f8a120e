"""The backup dom0 over SSH (paramiko): same interface as LocalHost.

* The host key is checked against known_hosts and never added: an unknown or changed key is
  refused with its SHA256 fingerprint and how to accept it.
* Commands are argv lists joined with shlex.join. Each runs in its own process group
  (`setsid -w`), whose id it reports first on stderr, so a Ctrl-C or a timeout can stop the
  whole remote build the same way as a local one: SIGTERM, then SIGKILL (never SIGINT, which
  makes xen-create-image 4.9 go on with the dom0's / as the guest root: see hosts._stop).
* Connecting starts in the background as soon as the host object exists, so it overlaps the
  local work; the first command waits for it.
"""

from __future__ import annotations

import os
import select
import shlex
import socket
import threading
import time

from xenpair.adapters.hosts import LineHandler, RunResult, cannot_start, probe_script
from xenpair.config import SshSettings, SshTarget
from xenpair.errors import Failed

_PGID_TAG = "xenpair-pgid "
_NOT_FOUND_TAG = "xenpair-not-found"
# report the process group id, then become the command (the group leader is this sh); a command
# that is not there is said so apart from a command's own exit 127 (xen-create-image uses 127)
_WRAP = ["setsid", "-w", "sh", "-c",
         f'command -v "$1" >/dev/null 2>&1 || {{ echo {_NOT_FOUND_TAG} >&2; exit 127; }}; '
         f'echo "{_PGID_TAG}$$" >&2; exec "$@"', "xenpair"]


class _UnknownHostKey(Exception):
    def __init__(self, hostname: str, key):
        super().__init__(hostname)
        self.hostname, self.key = hostname, key


class SshHost:
    remote = True

    def __init__(self, target: SshTarget, settings: SshSettings, stop_grace: float = 10.0):
        self.target = target
        self.settings = settings
        self.stop_grace = stop_grace
        self.name = str(target)
        self.known_hosts = os.path.expanduser(settings.known_hosts)
        self._client = None
        self._error: BaseException | None = None
        self._groups: set[int] = set()
        self._lock = threading.Lock()
        self._connecting = threading.Thread(target=self._connect, name=f"ssh {self.name}", daemon=True)
        self._connecting.start()

    # -- connection

    def _connect(self) -> None:
        # paramiko is imported here, in the background thread: its import (~0.1 s) overlaps too
        import paramiko

        class RefuseUnknown(paramiko.MissingHostKeyPolicy):
            def missing_host_key(self, client, hostname, key):
                raise _UnknownHostKey(hostname, key)

        t, s = self.target, self.settings
        client = paramiko.SSHClient()
        try:
            if os.path.exists(self.known_hosts):
                client.load_host_keys(self.known_hosts)
            client.set_missing_host_key_policy(RefuseUnknown())
            keys = {"key_filename": os.path.expanduser(s.key_file), "look_for_keys": False,
                    "allow_agent": False} if s.key_file else {}
            client.connect(t.host, port=t.port, username=t.user, timeout=s.connect_timeout,
                           banner_timeout=s.connect_timeout, auth_timeout=s.connect_timeout, **keys)
            client.get_transport().set_keepalive(30)
            self._client = client
        except BaseException as e:         # kept, and raised where the connection is first needed
            client.close()
            self._error = self._explain(e)

    def _explain(self, e: BaseException) -> BaseException:
        import paramiko

        t, s, kh = self.target, self.settings, self.known_hosts
        name = f"[{t.host}]:{t.port}" if t.port != 22 else t.host
        scan = f"ssh-keyscan -p {t.port} {t.host} >> {kh}"
        if isinstance(e, _UnknownHostKey):
            return Failed(f"the SSH host key of the backup dom0 {t.host}:{t.port} is not known",
                          where=kh, details=f"  offered key: {e.key.get_name()} {e.key.fingerprint}",
                          hint=f"check that fingerprint with the backup dom0 ('ssh-keygen -lf "
                               f"/etc/ssh/ssh_host_*_key.pub' there), then accept it: {scan} "
                               f"(or log in once: ssh -p {t.port} {t.user}@{t.host}). xenpair never adds keys.")
        if isinstance(e, paramiko.BadHostKeyException):
            return Failed(f"the SSH host key of the backup dom0 {t.host}:{t.port} has CHANGED",
                          where=kh, details=f"  offered key:  {e.key.get_name()} {e.key.fingerprint}\n"
                                            f"  expected key: {e.expected_key.get_name()} "
                                            f"{e.expected_key.fingerprint}",
                          hint="if the backup dom0 was reinstalled, remove the old key "
                               f"(ssh-keygen -R '{name}' -f {kh}) and accept the new one ({scan}); "
                               "otherwise someone may be intercepting the connection")
        if isinstance(e, paramiko.AuthenticationException):
            key = s.key_file or "your default keys and ssh-agent"
            return Failed(f"SSH login as {t.user} on the backup dom0 {t.host}:{t.port} was refused "
                          f"(key: {key})",
                          hint=f"add the public key to ~{t.user}/.ssh/authorized_keys there, or set "
                               "backup.ssh.key_file")
        if isinstance(e, (socket.timeout, TimeoutError)):
            return Failed(f"no answer from the backup dom0 {t.host}:{t.port} within "
                          f"{s.connect_timeout:g} s", hint="check the address, the port and the firewall; "
                                                          "backup.ssh.connect_timeout sets the limit")
        if isinstance(e, (paramiko.ssh_exception.NoValidConnectionsError, OSError)):
            reason = getattr(e, "strerror", None) or str(e)
            return Failed(f"cannot connect to the backup dom0 {t.host}:{t.port}: {reason}",
                          hint="is sshd running there and backup.host right?")
        if isinstance(e, paramiko.SSHException):
            return Failed(f"SSH to the backup dom0 {t.host}:{t.port} failed: {e}")
        return e

    def client(self):
        self._connecting.join()
        if self._error is not None:
            raise self._error
        return self._client

    def server_key(self) -> str:
        key = self.client().get_transport().get_remote_server_key()
        return f"{key.get_name()} {key.fingerprint}"

    def connect(self, address: str, port: int, timeout: float):
        """A TCP connection made by the backup dom0 (a direct-tcpip channel of the SSH connection):
        only the dom0 reaches its guests' network. Raises ConnectionError when it cannot."""
        import paramiko

        try:
            chan = self.client().get_transport().open_channel("direct-tcpip", (address, port), ("127.0.0.1", 0),
                                                              timeout=timeout)
        except paramiko.ChannelException as e:
            raise ConnectionError(f"{e.text or 'connect failed'} (seen from {self.target.host})") from None
        except paramiko.SSHException as e:
            raise ConnectionError(f"{e} (SSH to {self.target.host})") from None
        chan.settimeout(timeout)
        return chan

    def close(self) -> None:
        self._connecting.join()
        if self._client is not None:
            self._client.close()

    # -- commands

    def exists(self, path: str) -> bool:
        return self._exec(["test", "-e", path, "-o", "-L", path]).returncode == 0

    def which(self, command: str) -> str | None:
        r = self._exec(["sh", "-c", 'command -v "$1"', "sh", command])
        return r.stdout.strip() or None

    def probe(self, command: str, paths: list[str]) -> tuple[str | None, dict[str, bool]]:
        """which(command) and exists(path) for each path, in one round trip."""
        lines = self._exec(probe_script(command, paths)).stdout.splitlines()
        return (lines[0] or None) if lines else None, {p: v == "1" for p, v in zip(paths, lines[1:], strict=False)}

    def run(self, argv: list[str], timeout: float | None = None,
            on_line: LineHandler | None = None, input=None) -> RunResult:
        """Run argv in its own process group; stream its lines; stop the group on timeout.
        INPUT, if given, is the command's stdin: bytes or an open binary file."""
        r = self._exec(_WRAP + list(argv), timeout or self.settings.command_timeout, on_line, track=True,
                       input=input)
        if r.returncode == 127 and r.stderr.startswith(_NOT_FOUND_TAG):
            raise cannot_start(self.name, list(argv), "command not found")
        return r

    def terminate_all(self) -> None:
        with self._lock:
            groups = list(self._groups)
        for pgid in groups:
            self._stop_group(pgid)

    def _stop_group(self, pgid: int) -> None:
        for sig, wait in (("TERM", self.stop_grace), ("KILL", 5.0)):     # never INT: see hosts._stop
            self._exec(["kill", f"-{sig}", "--", f"-{pgid}"])
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self._exec(["kill", "-0", "--", f"-{pgid}"]).returncode != 0:
                    return
                time.sleep(0.2)

    def _exec(self, argv: list[str], timeout: float | None = 60.0, on_line: LineHandler | None = None,
              track: bool = False, input=None) -> RunResult:
        start = time.monotonic()
        chan = self.client().get_transport().open_session(timeout=self.settings.connect_timeout)
        chan.exec_command(shlex.join(argv))
        if isinstance(input, bytes):
            chan.sendall(input)
        elif input is not None:           # an open file, sent in pieces (a golden image: ~1 GB)
            while chunk := input.read(1 << 20):
                chan.sendall(chunk)
        chan.shutdown_write()
        out: dict[str, list[str]] = {"stdout": [], "stderr": []}
        partial = {"stdout": b"", "stderr": b""}
        pgid: list[int] = []

        def feed(stream: str, data: bytes, final: bool = False) -> None:
            lines = (partial[stream] + data).split(b"\n")
            partial[stream] = b"" if final else lines.pop()
            for raw in lines:
                if final and raw == b"":
                    continue
                line = raw.decode("utf-8", "replace")
                if track and stream == "stderr" and not pgid and line.startswith(_PGID_TAG):
                    pgid.append(int(line[len(_PGID_TAG):]))
                    with self._lock:
                        self._groups.add(pgid[0])
                    continue
                out[stream].append(line + "\n")
                if on_line:
                    on_line(stream, line)

        timed_out = False
        try:
            while True:
                select.select([chan], [], [], 0.2)
                while chan.recv_ready():
                    feed("stdout", chan.recv(65536))
                while chan.recv_stderr_ready():
                    feed("stderr", chan.recv_stderr(65536))
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    timed_out = True
                    if pgid:
                        self._stop_group(pgid[0])
                    break
            feed("stdout", b"", final=True)
            feed("stderr", b"", final=True)
            returncode = chan.recv_exit_status() if not timed_out else -1
        finally:
            chan.close()
            if pgid:
                with self._lock:
                    self._groups.discard(pgid[0])
        return RunResult(list(argv[len(_WRAP):] if track else argv), returncode, "".join(out["stdout"]),
                         "".join(out["stderr"]), time.monotonic() - start, timed_out)
