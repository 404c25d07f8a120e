"""What xenpair knows about each machine beyond its registry row: the SSH host keys its install
summary printed, when it was started and when it was ready.

One JSON file beside each registry CSV (`<csv>.machines.json`), keyed by FQDN, so the CSV stays
byte-compatible with the old wrapper's tools. Written only while the registry lock is held
(`Registry.locked()`), atomically; read without the lock (it is only ever replaced whole).
It is input like the registry: every field is checked on reading, and a file that does not
pass is an error naming it, never half used.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from xenpair.adapters import atomic
from xenpair.errors import RegistryError, decode_utf8
from xenpair.names import fqdn_problem

VERSION = 1
# `ssh-keygen -lf` on the dom0: SHA256:<43 base64> (OpenSSH >= 6.8) or colon hex MD5 (older)
_FINGERPRINT = re.compile(r"(SHA256:[A-Za-z0-9+/]{43}|(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2})\Z")
_ALGORITHM = re.compile(r"[A-Z0-9-]{2,20}\Z")             # RSA, ECDSA, ED25519, DSA, ECDSA-SK, ...
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\Z")
_FIELDS = {"host_keys", "built", "started", "ready", "ready_after_s", "problem"}


def is_host_key(key: dict) -> bool:
    """{algorithm, fingerprint} as the install summary printed it, in a form xenpair can check."""
    return bool(_ALGORITHM.match(key.get("algorithm", "")) and _FINGERPRINT.match(key.get("fingerprint", "")))


def path_for(csv: Path) -> Path:
    return csv.with_name(csv.name + ".machines.json")


def read(csv: Path) -> dict[str, dict]:
    """FQDN -> its entry; {} when there is no file yet."""
    path = path_for(csv)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise RegistryError(f"cannot read the machine state file: {e.strerror}", where=str(path),
                            hint="check the registry's folder (registry: in the config)") from None
    hint = ("fix it by hand, or move it away (the host keys are recorded again at the next build; "
            "until then 'xenpair wait' has nothing to check against)")
    text = decode_utf8(raw, path, RegistryError, "the machine state file", hint=hint)
    try:
        data = json.loads(text)
    except ValueError as e:
        raise RegistryError(f"the machine state file is not valid JSON: {e.msg}",
                            where=f"{path}:{getattr(e, 'lineno', 1)}", hint=hint) from None
    problem = _problem(data)
    if problem:
        raise RegistryError(f"the machine state file does not hold what xenpair wrote: {problem}",
                            where=str(path), hint=hint)
    return data["machines"]


def _problem(data) -> str | None:
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("machines"), dict):
        return f'expected {{"version": {VERSION}, "machines": {{...}}}}'
    for fqdn, entry in data["machines"].items():
        where = f"machine {fqdn[:80]!r}"
        if fqdn_problem(fqdn):
            return f"{where}: {fqdn_problem(fqdn)}"
        if not isinstance(entry, dict) or not set(entry) <= _FIELDS:
            return f"{where}: unknown fields {sorted(set(entry) - _FIELDS) if isinstance(entry, dict) else entry!r}"
        for key in entry.get("host_keys", []) if isinstance(entry.get("host_keys", []), list) else [None]:
            if (not isinstance(key, dict) or set(key) != {"algorithm", "fingerprint"}
                    or not isinstance(key["algorithm"], str) or not _ALGORITHM.match(key["algorithm"])
                    or not isinstance(key["fingerprint"], str) or not _FINGERPRINT.match(key["fingerprint"])):
                return f"{where}: host_keys holds {str(key)[:120]!r}, not {{algorithm, fingerprint}}"
        for name in ("built", "started", "ready"):
            value = entry.get(name)
            if value is not None and not (isinstance(value, str) and _TIME.match(value)):
                return f"{where}: {name} is {str(value)[:40]!r}, not a time such as 2026-12-02T17:00:00+00:00"
        seconds = entry.get("ready_after_s")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                                    or not 0 <= seconds < 10**7):
            return f"{where}: ready_after_s is {seconds!r}"
        note = entry.get("problem")
        if note is not None and (not isinstance(note, str) or len(note) > 2000):
            return f"{where}: problem is not a short text"
    return None


def update(csv: Path, changes: dict[str, dict | None]) -> None:
    """FQDN -> fields to set (merged into its entry), or None to forget the machine.
    The caller holds the registry lock."""
    machines = read(csv)
    for fqdn, fields in changes.items():
        if fields is None:
            machines.pop(fqdn, None)
        else:
            machines[fqdn] = {**machines.get(fqdn, {}), **fields}
    if not machines and not path_for(csv).exists():
        return
    atomic.write(path_for(csv), json.dumps({"version": VERSION, "machines": machines}, indent=1, sort_keys=True)
                 + "\n")
