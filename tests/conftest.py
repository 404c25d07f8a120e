"""Test fixtures: a private mount namespace, rootfs tarballs, and throw-away xenpair sites."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests import sandbox
from tests import smtpd as smtp
from tests.sshd import Sshd

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
XENPAIR = [sys.executable, "-m", "xenpair"]
DEFAULT_ROOTFS = "/var/cache/xenpair-test/bookworm-rootfs.tar"
DEFAULT_APT = "/var/cache/xenpair-test/apt"
# the guests' apt points at a closed loopback port: builds are offline and never leave 127.0.0.1
OFFLINE_MIRROR = "--mirror=http://127.0.0.1:9/debian"

TEST_PACKAGES = {
    "small": {"hosting": {"ram_mb": 256, "vcpus": 2, "disk_gb": 1, "swap_mb": 64},
              "backup": {"ram_mb": 128, "vcpus": 1, "disk_gb": 1}},
    "big": {"hosting": {"ram_mb": 512, "vcpus": 4, "disk_gb": 2},
            "backup": {"ram_mb": 128, "vcpus": 1, "disk_gb": 3, "swap_mb": 0}},
}

SANDBOX: Path | None = None


def pytest_configure(config):
    global SANDBOX
    if os.geteuid() != 0:
        raise pytest.UsageError("the xenpair tests need root (mount namespace, loop devices): run make test")
    SANDBOX = sandbox.enter()
    # A shell that starts pytest in the background (`make test &`) ignores SIGINT, and children
    # inherit an ignored signal: the Ctrl-C tests would then test nothing. Handled signals are
    # reset on exec, so this gives every child the terminal's behaviour back.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # xenpair's parsed-YAML cache (and anything else XDG) stays in the sandbox, for every child too
    os.environ["XDG_CACHE_HOME"] = str(SANDBOX / "cache")


def pytest_unconfigure(config):
    sandbox.leave()


@pytest.fixture(scope="session")
def tiny_rootfs(tmp_path_factory) -> Path:
    return sandbox.make_tiny_rootfs(tmp_path_factory.mktemp("rootfs"))


@pytest.fixture(scope="session")
def real_rootfs() -> Path:
    path = Path(os.environ.get("XENPAIR_TEST_ROOTFS", DEFAULT_ROOTFS))
    if not path.is_file():
        pytest.fail(f"no debootstrapped rootfs at {path}: run 'make test' (it builds and caches one)")
    return path


@dataclass
class TestSite:
    """A xenpair site whose every path lives in one temp dir, run through the real CLI."""

    root: Path
    config: dict
    config_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config_path = self.root / "config.yaml"
        self.write_config()

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config))

    @property
    def hosting_csv(self) -> Path:
        return Path(self.config["registry"]["hosting"])

    @property
    def backup_csv(self) -> Path:
        return Path(self.config["registry"]["backup"])

    @property
    def cfg_dir(self) -> Path:
        return Path(self.config["xen_create_image"]["cfg_dir"])

    @property
    def image_dir(self) -> Path:
        return self.root / "images" / "domains"      # storage.dir, also when a test switches to LVM

    def run(self, *args: str, input: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        # stdin is never the developer's terminal: "no terminal" must mean no terminal
        stdin = subprocess.DEVNULL if input is None else None
        return subprocess.run(XENPAIR + ["--config", str(self.config_path), *args], input=input, stdin=stdin,
                              capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def spawn(self, *args: str, timeout: float = 60):
        """The CLI on a real pseudo-terminal (pexpect), for prompts and the live view."""
        import pexpect

        return pexpect.spawn(XENPAIR[0], XENPAIR[1:] + ["--config", str(self.config_path), *args],
                             encoding="utf-8", timeout=timeout, cwd=str(self.root), dimensions=(50, 200))

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(XENPAIR + ["--config", str(self.config_path), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.root)


@pytest.fixture(scope="session")
def apt_proxy():
    """Replays the apt answers recorded once by tests/tools/make-aptcache; anything else is a 404."""
    from tests.aptproxy import AptProxy

    store = Path(os.environ.get("XENPAIR_TEST_APT", DEFAULT_APT))
    if not (store / ".complete").is_file():
        pytest.fail(f"no recorded apt answers in {store}: run 'make test' (tests/tools/make-aptcache)")
    with AptProxy(store) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def mailbox():
    """Every test site mails its install summaries to this real SMTP server (aiosmtpd, 127.0.0.1)."""
    controller, inbox, port = smtp.start()
    yield inbox, port
    controller.stop()


def _site(root: Path, rootfs: Path, dist: str, mail_port: int) -> TestSite:
    (root / "xen").mkdir()
    (root / "images").mkdir()
    packages = root / "packages.yaml"
    packages.write_text(yaml.safe_dump(TEST_PACKAGES))
    config = {
        "packages_file": str(packages),
        "log_dir": str(root / "xenpair-logs"),
        "roles_dir": str(root / "roles"),
        "images": {"dir": str(root / "golden")},      # golden images (storage.dir is root/images)
        "mail": {"to": "root@hosting.example.de", "from": "xenpair@test.example.de", "transport": "smtp",
                 "smtp": {"host": "127.0.0.1", "port": mail_port}},
        "registry": {"hosting": str(root / "xen_hosting_ips.csv"), "backup": str(root / "xen_backup_ips.csv")},
        # one host key type per guest: an RSA key costs 1-3 s of CPU per machine here, hundreds
        # of builds in the suite; the default full set is built by test_wait and test_ready_boot
        "ready": {"host_key_types": ["ed25519"]},
        "hosting": {"prefix": "192.168.20.0/24", "domain": "hosting.example.de", "bridge": "xenbr1"},
        "backup": {"prefix": "192.168.30.0/24", "domain": "backup.example.de", "bridge": "xenbr2",
                   "host": "local"},
        "xen_create_image": {
            "dist": dist, "fs": "ext4", "pygrub": True,
            "storage": {"dir": str(root / "images")},
            "cfg_dir": str(root / "xen"),
            "extra_args": ["--install-method=tar", f"--install-source={rootfs}", "--nohosts",
                           "--cache=no", OFFLINE_MIRROR],
        },
    }
    return TestSite(root, config)


@pytest.fixture
def tiny_site(tmp_path, tiny_rootfs, mailbox) -> TestSite:
    """Fast builds (~0.5 s a guest) from a tiny rootfs with the real networking/hostname/fstab hooks."""
    site = _site(tmp_path, tiny_rootfs, sandbox.TINY_DIST, mailbox[1])
    yield site
    sandbox.cleanup_leftovers(site.image_dir)


@pytest.fixture
def real_site(tmp_path, real_rootfs, mailbox) -> TestSite:
    """Real builds (~15 s a pair) from the debootstrapped bookworm root, all real debian.d hooks."""
    site = _site(tmp_path, real_rootfs, "bookworm", mailbox[1])
    yield site
    sandbox.cleanup_leftovers(site.image_dir)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> Sshd:
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def use_ssh_backup(site: TestSite, sshd: Sshd, **ssh) -> TestSite:
    """The backup machine is built through the real sshd on 127.0.0.1."""
    site.config["backup"]["host"] = f"root@127.0.0.1:{sshd.port}"
    site.config["backup"]["ssh"] = {"key_file": str(sshd.client_key), "known_hosts": str(sshd.known_hosts),
                                    "connect_timeout": 5, **ssh}
    site.write_config()
    return site


@pytest.fixture
def ssh_site(tiny_site, sshd) -> TestSite:
    return use_ssh_backup(tiny_site, sshd)


@pytest.fixture
def ssh_real_site(real_site, sshd) -> TestSite:
    return use_ssh_backup(real_site, sshd)


def old_wrapper_registry(site: TestSite) -> tuple[bytes, bytes]:
    """Registry files exactly as the old bash wrapper wrote them: out of order, `date` dates."""
    hosting = (b"IP;Name;Package;external IP;Date created\n"
               b"192.168.20.1;Hosting;Xen-Host\n"
               b"192.168.20.2;shop.hosting.example.de;package1;;Mon Mar  4 10:12:01 CET 2013\n"
               b"192.168.20.7;foobar.hosting.example.de;package3;198.51.100.20;Tue Jun 11 09:00:00 CEST 2013\n"
               b"192.168.20.4;blog.hosting.example.de;package2;;Wed Apr 17 16:30:45 CEST 2013\n")
    backup = (b"IP;Name;Package;Date created\n"
              b"192.168.30.2;shop.backup.example.de;package1;Mon Mar  4 10:14:40 CET 2013\n"
              b"192.168.30.7;foobar.backup.example.de;package3;Tue Jun 11 09:02:13 CEST 2013\n"
              b"192.168.30.4;blog.backup.example.de;package2;Wed Apr 17 16:33:02 CEST 2013\n")
    site.hosting_csv.write_bytes(hosting)
    site.backup_csv.write_bytes(backup)
    return hosting, backup


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true",
                     help="rewrite tests/golden/* from the current output (review the diff)")


@pytest.fixture
def golden(request):
    """Compare text with tests/golden/NAME; --regen-golden rewrites the file instead."""
    def check(name: str, text: str) -> None:
        path = Path(__file__).resolve().parent / "golden" / name
        if request.config.getoption("--regen-golden"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
        assert path.is_file(), f"no golden file {path}: run pytest --regen-golden and review it"
        assert text == path.read_text()
    return check


FAKE_XL = """#!/bin/sh
# STAND-IN for Xen's `xl`: no hypervisor runs on this machine. Keeps "running" guests as files.
state={state}
mkdir -p "$state"
if [ -n "${{SSH_CONNECTION:-}}" ]; then where=ssh; else where=local; fi
echo "$where $*" >> "$state.log"
case "$1" in
  list) [ -e "$state/$2" ] && {{ echo "Name ID Mem VCPUs State Time(s)"; echo "$2 1 256 1 -b---- 0.1"; exit 0; }}
        echo "$2 is an invalid domain identifier (rc=-6)" >&2; exit 1 ;;
  shutdown) [ "$2" = "-w" ] && shift; rm -f "$state/$2"; echo "Shutting down domain 1"; exit 0 ;;
  create) name=$(sed -n "s/^name *= *'\\\\(.*\\\\)'/\\\\1/p" "$2"); [ -n "$name" ] || exit 3; touch "$state/$name";
          echo "Parsing config from $2"; exit 0 ;;
esac
echo "fake xl: unsupported: $*" >&2; exit 2
"""


@pytest.fixture
def fake_xl(tmp_path):
    """Stand-in for the toolstack (`xl` needs a Xen hypervisor, which cannot run here).

    Returns (path of the script, directory of 'running' guests); set `toolstack:` to the path.
    Every call is recorded in '<running>.log' as "local ARGV" or "ssh ARGV" (run over sshd).
    """
    script, state = tmp_path / "fake-xl", tmp_path / "running"
    script.write_text(FAKE_XL.format(state=state))
    script.chmod(0o755)
    state.mkdir()
    return script, state
