"""Issue 10 item 8: SIGTERM and SIGHUP get the cleanup Ctrl-C gets, a second signal cannot abort
it, and local builds have a finite timeout. Real builds from the debootstrapped root."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.test_repair import _wait_for_builds_to_end, _wait_for_images, shown


def no_loops_left(site) -> bool:
    loops = subprocess.run(["losetup", "-n", "-O", "BACK-FILE", "-l"], capture_output=True, text=True).stdout
    return str(site.image_dir) not in loops


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_term_and_hup_clean_up_like_ctrl_c(real_site, sig, code):
    proc = real_site.popen("create", "small", "sig", "--yes")
    _wait_for_images(real_site, 2)
    time.sleep(1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == code, err
    assert f"interrupted by {signal.Signals(sig).name}" in err and "Traceback" not in err
    _wait_for_builds_to_end(real_site, "sig", timeout=5)
    assert shown(real_site, "sig")["state"] == "failed (hosting and backup)"      # not left "creating"
    assert no_loops_left(real_site)
    assert real_site.run("repair", "sig").returncode == 0


def test_a_second_signal_waits_for_the_cleanup(real_site):
    proc = real_site.popen("create", "small", "twice", "--yes")
    _wait_for_images(real_site, 2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert "still cleaning up" in err and "Traceback" not in err
    assert shown(real_site, "twice")["state"] == "failed (hosting and backup)"
    assert no_loops_left(real_site)


def test_local_builds_have_a_finite_timeout(real_site):
    real_site.config["build_timeout"] = 3
    real_site.write_config()
    r = real_site.run("create", "small", "slow", "--yes", "--json")
    assert r.returncode == 1
    assert "did not finish within 3 s and was stopped" in r.stdout
    assert shown(real_site, "slow")["state"] == "failed (hosting and backup)"
    assert no_loops_left(real_site)
