"""The exact xen-create-image argv. LVM cannot run on this machine (no device-mapper), so LVM
storage is tested here up to the argv and the paths xenpair checks, and in the plan of a dry run."""

from ipaddress import IPv4Address, IPv4Network

from xenpair.config import Config, XenCreateImage, load_packages
from xenpair.core.machines import MachineSpec


def spec(tier: str, kind: str = "hosting", n: int = 2, **kw) -> MachineSpec:
    c = Config()
    side = getattr(c, kind)
    values = dict(kind=kind, fqdn=f"foo.{side.domain}", ip=side.prefix.network_address + n, prefix=side.prefix,
                  bridge=side.bridge, gateway=side.gateway, size=getattr(load_packages(c)[tier], kind),
                  xci=c.xen_create_image)
    values.update(kw)
    return MachineSpec(**values)


def test_package1_hosting_argv_with_the_old_wrappers_values():
    assert spec("package1").argv() == [
        "xen-create-image", "--hostname=foo.hosting.example.de", "--ip=192.168.20.2",
        "--netmask=255.255.255.0", "--bridge=xenbr1", "--memory=1024Mb", "--swap=1024Mb", "--size=25Gb",
        "--vcpus=1", "--dist=bookworm", "--fs=ext4", "--pygrub", "--lvm=vg0", "--output=/etc/xen",
        "--hash_method=sha512", "--verbose"]


def test_vcpus_are_passed_unlike_the_old_wrapper():
    assert "--vcpus=8" in spec("package3").argv()          # the old h_cpu was computed, never passed
    assert "--vcpus=1" in spec("package3", kind="backup").argv()


def test_external_ip_gateway_and_extra_args():
    xci = XenCreateImage(extra_args=["--mirror=http://127.0.0.1:9/debian"])
    s = spec("package2", gateway=IPv4Address("192.168.20.254"), external_ip=IPv4Address("203.0.113.7"), xci=xci)
    argv = s.argv()
    assert argv[2:5] == ["--ip=192.168.20.2", "--ip=203.0.113.7", "--netmask=255.255.255.0"]
    assert "--gateway=192.168.20.254" in argv
    assert argv[-1] == "--mirror=http://127.0.0.1:9/debian"
    assert not any(a == "--gateway=" for a in argv)


def test_lvm_paths_xenpair_checks_before_building():
    assert spec("package1").storage_paths == ["/dev/vg0/foo.hosting.example.de-disk",
                                              "/dev/vg0/foo.hosting.example.de-swap"]
    assert spec("package1").cfg_path == "/etc/xen/foo.hosting.example.de.cfg"


def test_dir_storage_and_no_swap():
    from xenpair.config import Machine, Storage
    s = spec("package1", xci=XenCreateImage(storage=Storage(dir="/srv/xen"), cfg_dir="/srv/cfg/"),
             size=Machine(ram_mb=512, vcpus=1, disk_gb=5, swap_mb=0))
    argv = s.argv()
    assert "--noswap" in argv and "--dir=/srv/xen" in argv and "--output=/srv/cfg" in argv  # normalised
    assert not any(a.startswith("--swap") for a in argv)
    assert s.storage_paths == ["/srv/xen/domains/foo.hosting.example.de"]
    assert s.cfg_path == "/srv/cfg/foo.hosting.example.de.cfg"


def test_slash16_netmask():
    s = spec("package1", prefix=IPv4Network("10.20.0.0/16"), ip=IPv4Address("10.20.1.1"))
    assert "--netmask=255.255.0.0" in s.argv()
