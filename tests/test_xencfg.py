"""The structural cfg edit, checked with Xen's own parser (libxlutil) on real and awkward files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import xlcfg
from xenpair.adapters import xencfg

DATA = Path(__file__).resolve().parent / "data"
MAC, EXT = "00:16:3e:01:02:03", "203.0.113.9"


def parsed(tmp_path, text: str) -> dict:
    path = tmp_path / "t.cfg"
    path.write_text(text)
    return xlcfg.parse(path)


def check(tmp_path, before: str, ext: str = EXT) -> str:
    after = xencfg.move_external_ip(before, ext, MAC, "xenbr0", "t.cfg")
    vifs = parsed(tmp_path, after)["vif"]
    assert vifs[-1] == f"ip={ext},mac={MAC},bridge=xenbr0" or f"ip={ext}," in "".join(vifs)
    assert sum(ext in v.split(",")[0].removeprefix("ip=").split() for v in vifs) == 1    # on one vif only
    assert xencfg.move_external_ip(after, ext, "00:16:3e:ff:ff:ff", "xenbr0", "t.cfg") == after   # idempotent
    return after


@pytest.mark.parametrize(("sample", "ext", "first_vif"), [
    ("web1.example.com.cfg", EXT, "ip=192.168.1.10 ,mac=00:16:3E:4C:F3:C0,bridge=xenbr0"),   # one --ip: ext added
    ("web2.example.com.cfg", "192.168.1.21", "ip=192.168.1.20,mac=00:16:3e:aa:bb:cc,bridge=xenbr0"),   # two --ip
    ("mail.example.com.cfg", "10.0.0.26", "ip=10.0.0.25,mac=00:16:3E:E5:B4:6F,vifname=vif-mail,bridge=br0"),  # LVM
])
def test_real_samples(tmp_path, sample, ext, first_vif):
    before = (DATA / sample).read_text()
    after = check(tmp_path, before, ext)
    assert parsed(tmp_path, after)["vif"][0] == first_vif
    assert parsed(tmp_path, after)["disk"] == parsed(tmp_path, before)["disk"]
    changed = [line for line in xencfg.diff(before, after, sample).splitlines() if line[:1] in "+-"]
    assert all("vif" in line for line in changed[2:])                 # only the vif line differs


AWKWARD = {
    "comments and a multi-line list": """# guest
name = 'x' # the name
vif = [   # networks
        'ip=10.1.1.2 203.0.113.9 ,mac=00:16:3E:AA:BB:CC,bridge=xenbr1',  # internal
      ]
memory = 512
""",
    "odd spacing, double quotes": 'vif=["ip=10.1.1.2   203.0.113.9,mac=00:16:3E:AA:BB:CC,bridge=xenbr1"];memory=256\n',
    "several vifs": "vif = [ 'ip=10.1.1.2,bridge=xenbr1', 'ip=10.9.9.9 203.0.113.9,bridge=xenbr2' ]\n",
    "vif already present": ("vif = [ 'ip=10.1.1.2,bridge=xenbr1',\n"
                            "        'ip=203.0.113.9,mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n"),
    "trailing comma": "vif = [\n  'ip=10.1.1.2 203.0.113.9,bridge=xenbr1',\n]\n",
}


@pytest.mark.parametrize("case", AWKWARD)
def test_awkward_files(tmp_path, case):
    before = AWKWARD[case]
    after = check(tmp_path, before)
    if case == "vif already present":
        assert after == before                                        # "already done"
    for comment in ("# guest", "# the name", "# networks", "# internal"):
        assert (comment in before) == (comment in after)               # comments survive
    assert parsed(tmp_path, after).get("memory") == parsed(tmp_path, before).get("memory")


def test_remove_puts_it_back_to_one_vif(tmp_path):
    before = (DATA / "web2.example.com.cfg").read_text()
    moved = xencfg.move_external_ip(before, "192.168.1.21", MAC, "xenbr0", "t")
    removed = xencfg.remove_external_ip(moved, "192.168.1.21", "t")
    assert parsed(tmp_path, removed)["vif"] == ["ip=192.168.1.20,mac=00:16:3e:aa:bb:cc,bridge=xenbr0"]
    assert xencfg.remove_external_ip(removed, "192.168.1.21", "t") == removed
    shared = xencfg.remove_external_ip(before, "192.168.1.21", "t")    # still on the internal vif
    assert parsed(tmp_path, shared)["vif"] == ["ip=192.168.1.20,mac=00:16:3e:aa:bb:cc,bridge=xenbr0"]


@pytest.mark.parametrize("bad", ["vif = [ 'ip=10.1.1.2 \n", "vif = 'ip=1.2.3.4'\n", "memory = 512\n",
                                 "vif = [ 'a' 'b' ]\n", "vif = [ 'x' ] { }\n"])
def test_unreadable_cfg_is_refused(bad):
    with pytest.raises(xencfg.CfgError):
        xencfg.move_external_ip(bad, EXT, MAC, "xenbr0", "t.cfg")


def test_patch_keeps_a_backup_and_refuses_unchanged(tmp_path):
    from xenpair.errors import BadInput
    path = tmp_path / "g.cfg"
    path.write_text("vif = [ 'ip=10.1.1.2 203.0.113.9 ,bridge=xenbr1' ]\n")
    new = xencfg.move_external_ip(path.read_text(), EXT, MAC, "xenbr0", str(path))
    xencfg.write_with_backup(str(path), new)
    assert (tmp_path / "g.cfg.bak").read_text() == "vif = [ 'ip=10.1.1.2 203.0.113.9 ,bridge=xenbr1' ]\n"
    assert path.read_text() == new and not list(tmp_path.glob("*.tmp"))
    broken = tmp_path / "b.cfg"
    broken.write_text("vif = [ 'unterminated\n")
    with pytest.raises(BadInput):
        xencfg.move_external_ip(broken.read_text(), EXT, MAC, "xenbr0", str(broken))
    assert broken.read_text() == "vif = [ 'unterminated\n"


def test_macs_are_unique_in_the_oui(tmp_path):
    (tmp_path / "a.cfg").write_text("vif = [ 'mac=00:16:3E:00:00:01' ]\n")
    taken = xencfg.macs_in(str(tmp_path))
    assert taken == {"00:16:3e:00:00:01"}
    macs = {xencfg.new_mac(taken) for _ in range(50)}
    assert all(m.startswith("00:16:3e:") and m not in taken for m in macs)


def test_macs_on_the_backup_dom0_count_too(sshd, tmp_path):
    from xenpair.adapters.ssh import SshHost
    from xenpair.config import SshSettings, SshTarget

    (tmp_path / "b.backup.example.de.cfg").write_text("vif = [ 'ip=192.168.30.2 ,mac=00:16:3E:AB:CD:EF' ]\n")
    host = SshHost(SshTarget("root", "127.0.0.1", sshd.port),
                   SshSettings(key_file=str(sshd.client_key), known_hosts=str(sshd.known_hosts)))
    assert xencfg.macs_on(host, str(tmp_path)) == {"00:16:3e:ab:cd:ef"}
    assert xencfg.macs_on(host, str(tmp_path / "missing")) == set()
    host.close()
