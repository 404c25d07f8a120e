"""The local host adapter: argv runs, timeouts, and releasing what a failed build left mounted."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from pathlib import Path

from xenpair.adapters.hosts import LocalHost, release_mounts


def test_run_collects_output_and_exit_code():
    lines = []
    r = LocalHost().run(["sh", "-c", "echo out; echo err >&2; exit 3"],
                        on_line=lambda stream, line: lines.append((stream, line)))
    assert (r.returncode, r.stdout, r.stderr, r.timed_out) == (3, "out\n", "err\n", False)
    assert sorted(lines) == [("stderr", "err"), ("stdout", "out")]


def test_argv_is_never_a_shell_string(tmp_path):
    r = LocalHost().run(["echo", "a;b $(touch x) `id`"])
    assert r.stdout == "a;b $(touch x) `id`\n"


def test_timeout_stops_the_whole_process_group():
    # the background sleep is in the group too: SIGTERM reaches it as well
    r = LocalHost(stop_grace=1.0).run(["sh", "-c", "sleep 30 & sleep 30; wait"], timeout=0.5)
    assert r.timed_out and r.elapsed < 20
    assert subprocess.run(["pgrep", "-f", "sleep 30"], capture_output=True).stdout == b""


def test_release_mounts_of_a_half_built_guest(tmp_path):
    guest = tmp_path / "domains" / "half.example.de"
    guest.mkdir(parents=True)
    img = guest / "disk.img"
    subprocess.run(["truncate", "-s", "64M", str(img)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True)
    mnt = Path(tempfile.mkdtemp(dir="/tmp"))
    subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], check=True)
    (mnt / "proc").mkdir()
    subprocess.run(["mount", "-t", "proc", "proc", str(mnt / "proc")], check=True)   # as the hooks do
    other = tmp_path / "domains" / "other.example.de"                                 # not this guest
    other.mkdir()
    released = release_mounts(LocalHost(), [str(guest)])
    assert released == [str(mnt)]
    assert str(mnt) not in Path("/proc/self/mounts").read_text()
    assert not mnt.exists()                                          # its empty mount point is gone too
    subprocess.run(["mount", "-o", "loop", str(img), str(guest.parent)], check=True)
    assert (guest.parent / "proc").is_dir()                          # the guest's own /proc was not removed
    subprocess.run(["umount", str(guest.parent)], check=True)
    loops = subprocess.run(["losetup", "-n", "-O", "BACK-FILE", "-l"], capture_output=True, text=True).stdout
    assert str(img) not in loops
    assert release_mounts(LocalHost(), [str(guest)]) == []          # nothing left: a no-op


def test_stopping_a_build_never_sends_sigint(tmp_path):
    """xen-create-image 4.9 goes on with the dom0's / as guest root after SIGINT: xenpair stops
    builds with SIGTERM (then SIGKILL). A real process group that records what it gets."""
    got = tmp_path / "signals"
    script = (f'trap "echo INT >>{got}" INT; trap "echo TERM >>{got}; exit 143" TERM; '
              f'echo ready >>{got}; while :; do sleep 0.1; done')
    host = LocalHost(stop_grace=5.0)
    t = threading.Thread(target=host.run, args=(["sh", "-c", script],))
    t.start()
    deadline = time.monotonic() + 10
    while not (got.exists() and "ready" in got.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    host.terminate_all()
    t.join(timeout=20)
    assert got.read_text().split() == ["ready", "TERM"]
