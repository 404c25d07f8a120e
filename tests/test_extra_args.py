"""Issue 10 item 4: extra_args are resolved exactly as xen-create-image's Getopt::Long resolves them.

Checked against the real thing twice: the option table equals the GetOptions call in the installed
/usr/bin/xen-create-image, and every probe resolves as Perl's own Getopt::Long resolves it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from xenpair.adapters.xen_create_image import _GETOPT_SPEC, resolve_option
from xenpair.config import XenCreateImage

PROBES = ["debu", "boo", "dhc", "vc", "fo", "ou", "si", "VCPUS", "no-pygrub", "nopy", "inst", "install",
          "install-s", "frobnicate", "mirr", "no-d", "nohost", "no-h", "copy", "nocopy", "gen", "genpass",
          "ext", "ver", "h", "he", "noswa", "sw", "ro", "role-a", "keep", "nok", "Dist", "lvm_", "lvm"]


def installed_spec() -> list[str]:
    src = Path("/usr/bin/xen-create-image").read_text()
    call = src[src.index("!GetOptions("):]
    call = call[: call.index("    )")]
    return re.findall(r'^\s*"([^"]+)",', call, re.M)


def test_the_table_is_the_installed_xen_create_image_s():
    assert installed_spec() == _GETOPT_SPEC.split()


def perl_resolves(name: str) -> str:
    """What Perl's Getopt::Long (default configuration, as xen-create-image uses it) makes of --NAME."""
    script = r'''
        use Getopt::Long;
        my %o; my @w;
        local $SIG{__WARN__} = sub { push @w, $_[0] };
        my $ok = GetOptions(\%o, split(" ", $ENV{SPEC}));
        if (@w) { print "ERROR @w"; exit }
        my ($k) = keys %o;
        print(($o{$k} eq "0" ? "no" : "") . $k);
    '''
    # every option gets a value so that the name alone decides; flags get none
    r = subprocess.run(["perl", "-e", script, "--", f"--{name}"], capture_output=True, text=True,
                       env={"SPEC": _GETOPT_SPEC, "PATH": "/usr/bin:/bin"})
    return r.stdout


@pytest.mark.parametrize("name", PROBES)
def test_resolution_equals_perl_getopt_long(name):
    perl = perl_resolves(name)
    try:
        option, kind = resolve_option(name)
    except ValueError as e:
        assert perl.startswith("ERROR"), (name, perl, str(e))
        assert ("ambiguous" in perl) == ("ambiguous" in str(e))
        return
    if kind.startswith("="):          # perl complained about the missing value: the name was resolved
        assert f"Option {option} requires an argument" in perl, (name, perl)
    else:
        assert perl == option, (name, perl, option)


@pytest.mark.parametrize("item,why", [
    ("--debu", "reads it as --debug"), ("--boo", "reads it as --boot"), ("--dhc", "reads it as --dhcp"),
    ("--vc=64", "sets --vcpus"), ("--fo", "sets --force"), ("--ou=/etc/xen", "sets --output"),
    ("--si=500Gb", "sets --size"), ("--VCPUS=2", "sets --vcpus"), ("--nopy", "sets --nopygrub"),
    ("--no-pygrub", "sets --nopygrub"), ("--ext=.xen", "sets --extension"), ("--image-d=/dev/x", "sets --image-dev"),
    ("--inst=x", "is ambiguous"), ("--frobnicate", "is not an option of xen-create-image"),
    ("--nohosts=1", "takes no value"), ("--mirror", "needs a value"), ("--genpass=x", "whole number"),
    ("--h", "is ambiguous"), ("--hel", "reads it as --help"), ("--passw", "is ambiguous"),
    ("--passwd", "'--passwd' is not allowed"),
])
def test_refused_extra_args(item, why):
    with pytest.raises(ValidationError) as e:
        XenCreateImage(extra_args=[item])
    assert why in str(e.value)


@pytest.mark.parametrize("item", ["--install-method=tar", "--install-source=/srv/r.tar", "--nohosts", "--no-hosts",
                                  "--cache=no", "--mirr=http://127.0.0.1:9/debian", "--genpass=1", "--randommac",
                                  "--apt_proxy=http://127.0.0.1:3142", "--nokeep", "--arch=amd64"])
def test_allowed_extra_args(item):
    assert XenCreateImage(extra_args=[item]).extra_args == [item]
