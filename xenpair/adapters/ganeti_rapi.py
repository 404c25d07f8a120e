"""Ganeti's REST API (RAPI, version 2): the few calls xenpair makes, nothing more.

No maintained client is on PyPI, and Debian's python3-ganeti-rapi is tied to one Ganeti
version; the calls here are plain HTTPS (httpx) with:

* TLS verified against the cluster's own certificate (`rapi.pem`, self-signed by the cluster:
  it is the trust anchor; its name is Ganeti's fixed "ganeti.example.com", so the pinned
  certificate, not the host name, is what is checked);
* the user and password from a file only root can read (`USER:PASSWORD`);
* every change a job: submitted, then followed with `/2/jobs/ID/wait` (long poll) so its log
  lines reach the caller as they are written; `cancel` for Ctrl-C.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from xenpair.errors import BadInput, Failed

FINAL = {"success", "error", "canceled"}


def read_credentials(path: Path) -> tuple[str, str]:
    """USER:PASSWORD from PATH, which must not be readable by others (it can change the cluster)."""
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BadInput(f"cannot read the RAPI credentials: {e.strerror}", where=str(path),
                       hint="ganeti.credentials_file in the config: a file with USER:PASSWORD, mode 0600") from None
    if st.st_mode & 0o077 or st.st_uid != 0:
        raise BadInput("the RAPI credentials file is readable or writable by others, or not root's",
                       where=str(path), hint=f"chown root: {path}; chmod 600 {path}")
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password or "\n" in password:
        raise BadInput("the RAPI credentials file does not hold one USER:PASSWORD line", where=str(path),
                       hint="one line: USER:PASSWORD (as in the cluster's rapi/users file)")
    return user, password


class Rapi:
    def __init__(self, url: str, certificate: Path, credentials: tuple[str, str], timeout: float = 30):
        import httpx

        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise BadInput(f"the RAPI address {url!r} is not an https:// URL", hint="e.g. https://cluster.example.de:5080")
        self.url = url.rstrip("/")
        try:
            context = ssl.create_default_context(cafile=str(certificate))
        except (OSError, ssl.SSLError) as e:
            raise BadInput(f"cannot load the cluster's certificate: {e}", where=str(certificate),
                           hint="copy /var/lib/ganeti/rapi.pem from the master (its certificate part)") from None
        context.check_hostname = False        # the pinned certificate is the check (module docstring)
        self._client = httpx.Client(base_url=self.url, verify=context, auth=credentials, timeout=timeout,
                                    headers={"Accept": "application/json"})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Rapi:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, path: str, params=None, body=None):
        import httpx

        try:
            r = self._client.request(method, path, params=params, json=body)
        except httpx.ConnectError as e:
            why = str(e)
            if "CERTIFICATE_VERIFY_FAILED" in why:
                raise Failed(f"the RAPI at {self.url} did not show the cluster's certificate ({why})",
                             hint="ganeti.rapi_certificate must be that cluster's rapi.pem") from None
            raise Failed(f"cannot reach the Ganeti RAPI at {self.url}: {why}",
                         hint="is the master up, and ganeti.rapi the master's address and port (5080)?") from None
        except httpx.TimeoutException:
            raise Failed(f"the Ganeti RAPI at {self.url} did not answer {method} {path} in time") from None
        if r.status_code == 401:
            raise BadInput(f"the Ganeti RAPI at {self.url} refused the user and password",
                           hint="check ganeti.credentials_file against the cluster's rapi/users") from None
        if r.status_code == 403:
            raise BadInput(f"the RAPI user may not {method} {path} (needs 'write' in rapi/users)")
        if r.status_code >= 400:
            try:
                detail = r.json()
                message = f"{detail.get('message')}" + (f": {detail['explain']}" if detail.get("explain") else "")
            except ValueError:
                message = r.text[:500]
            raise Failed(f"Ganeti refused {method} {path}: {message}", where=self.url)
        return r.json()

    # -- reading
    def info(self) -> dict:
        return self._call("GET", "/2/info")

    def groups(self) -> list[dict]:
        return self._call("GET", "/2/groups", {"bulk": 1})

    def networks(self) -> list[dict]:
        return self._call("GET", "/2/networks", {"bulk": 1})

    def network(self, name: str) -> dict:
        return self._call("GET", f"/2/networks/{name}")

    def instances(self) -> list[dict]:
        return self._call("GET", "/2/instances", {"bulk": 1})

    def instance(self, name: str) -> dict:
        return self._call("GET", f"/2/instances/{name}")

    def operating_systems(self) -> list[str]:
        """The OS names (with variants) valid on every node."""
        return self._call("GET", "/2/os")

    def tags(self) -> list[str]:
        return self._call("GET", "/2/tags")

    # -- jobs
    def add_tags(self, tags: list[str]) -> int:
        return int(self._call("PUT", "/2/tags", [("tag", t) for t in tags]))

    def create_instance(self, body: dict) -> int:
        """POST /2/instances (request version 1): the job id."""
        return int(self._call("POST", "/2/instances", body=body))

    def remove_instance(self, name: str) -> int:
        return int(self._call("DELETE", f"/2/instances/{name}"))

    def startup(self, name: str) -> int:
        return int(self._call("PUT", f"/2/instances/{name}/startup"))

    def shutdown(self, name: str, timeout_s: int = 120) -> int:
        """A clean shutdown (ACPI on Xen), forced after TIMEOUT_S as Ganeti does."""
        return int(self._call("PUT", f"/2/instances/{name}/shutdown", body={"timeout": timeout_s}))

    def reinstall(self, name: str, body: dict) -> int:
        """POST /2/instances/NAME/reinstall: the OS again on its disks (the instance must be stopped)."""
        return int(self._call("POST", f"/2/instances/{name}/reinstall", body=body))

    def modify(self, name: str, body: dict) -> int:
        """PUT /2/instances/NAME/modify, e.g. {"nics": [["add", -1, {...}]]}."""
        return int(self._call("PUT", f"/2/instances/{name}/modify", body=body))

    def job(self, job_id: int) -> dict:
        return self._call("GET", f"/2/jobs/{job_id}")

    def cancel(self, job_id: int) -> tuple[bool, str]:
        """(cancelled, Ganeti's message): a job that already runs is not cancelled (Ganeti 3.0
        cannot stop a running opcode); it ends on the cluster."""
        r = self._call("DELETE", f"/2/jobs/{job_id}")
        return (bool(r[0]), str(r[1])) if isinstance(r, list) and len(r) == 2 else (False, str(r))

    def wait(self, job_id: int, log: Callable[[str], None] | None = None, timeout: float = 3600) -> dict:
        """Follow job JOB_ID until it ends (long polls: the master answers at once on a change);
        each new log line goes to LOG. Returns the job (status, opresult, ...)."""
        deadline = time.monotonic() + timeout
        info, serial = None, None
        while True:
            change = self._call("GET", f"/2/jobs/{job_id}/wait",
                                body={"fields": ["status"], "previous_job_info": info, "previous_log_serial": serial})
            if change:
                info = change["job_info"]
                for entry in change.get("log_entries") or []:
                    serial = entry[0]
                    if log is not None:
                        log(str(entry[3]))
                if info[0] in FINAL:
                    return self.job(job_id)
            if time.monotonic() > deadline:
                raise Failed(f"Ganeti job {job_id} did not end in {timeout:.0f} s", where=self.url,
                             hint=f"gnt-job info {job_id} on the master")
