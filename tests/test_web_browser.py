"""The self-service flow in a real browser: headless Chromium from Debian's `chromium` package,
driven by Playwright, against `xenpair web serve` (gunicorn) and `xenpair web worker` on
127.0.0.1, which build with the real xen-create-image (the backup machine through the real sshd)
and boot the pair.

No Xen hypervisor runs here: the toolstack is tests/tools/qemu-xl, the STAND-IN for `xl` that
boots the built guests under QEMU (test_ready_boot says how), on bridges in the tests' own
network namespace with documentation-range addresses. "ready" on the page is xenpair's: both
machines booted and answered SSH with the host keys their install summaries printed.

Screenshots of the pages go to $XENPAIR_SCREENSHOTS (default: the test's folder, kept when it
fails); docs/web.md shows some.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import bootnet
from tests.conftest import use_ssh_backup
from tests.test_ready_boot import guest_ssh
from tests.webtools import CHROMIUM, WebSite, web_config

playwright = pytest.importorskip("playwright.sync_api", reason="the test extra is installed by make test")
pytestmark = pytest.mark.xci
BOOT_TIMEOUT = 600
PASSWORDS = {"alice": "alice-orders-pairs", "bob": "bob-guesses-urls", "op": "operator-approves"}
NARROW = {"width": 360, "height": 780}


@pytest.fixture(scope="module")
def bridges():
    with bootnet.bridges():
        yield


@pytest.fixture(scope="module")
def web(tmp_path_factory, real_rootfs, mailbox, sshd, bridges):
    """The pages and one worker for a boot-ready site; alice (1 pair, no external IP, an
    operator approves), bob (another customer), op (the operator)."""
    from tests.conftest import _site

    root = tmp_path_factory.mktemp("webflow")
    state = root / "qemu"
    site = _site(root, real_rootfs, "bookworm", mailbox[1])
    bootnet.boot_config(site.config, state, BOOT_TIMEOUT)
    site.config["web"] = web_config(root)
    site = use_ssh_backup(site, sshd)
    pages = WebSite(site.config_path, root / "logs")
    try:
        pages.start()
        pages.user("alice", PASSWORDS["alice"], "--max-pairs", "1", "--external-ips", "0", "--package", "boot")
        pages.user("bob", PASSWORDS["bob"], "--max-pairs", "1")
        pages.user("op", PASSWORDS["op"], "--operator")
        yield site, pages, state, root
    finally:
        pages.stop()
        bootnet.stop_guests(state)
        from tests import sandbox

        sandbox.cleanup_leftovers(site.image_dir)
        shutil.rmtree(site.image_dir, ignore_errors=True)        # GBs of disk images
        for copy in [*state.glob("*.vmlinuz"), *state.glob("*.initrd")]:
            copy.unlink()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        # --no-sandbox: the tests run as root, where Chromium's own sandbox refuses to start
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def login(browser, pages: WebSite, name: str, **context):
    page = browser.new_context(**context).new_page()
    page.goto(pages.url + "/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    return page


def fits(page) -> None:
    """Nothing wider than the window: no sideways scrolling of the whole page at 360 px."""
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], page.url


def test_order_approve_build_boot_ready_in_the_browser(web, browser, tmp_path):
    site, pages, state, root = web
    shots = Path(os.environ.get("XENPAIR_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(exist_ok=True)
    key = tmp_path / "id_alice"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f", str(key)], check=True)

    anon = browser.new_context(viewport=NARROW).new_page()
    anon.goto(pages.url + "/")
    assert anon.url.endswith("/login/?next=/")
    anon.screenshot(path=shots / "login-360.png", full_page=True)

    alice = login(browser, pages, "alice")
    assert alice.get_by_role("heading", name="Your pairs").is_visible()
    form = alice.locator("form[action='/order/']")
    # a bad name first: the message is on the form, what was typed stays
    form.get_by_label("Name").fill("Shop!")
    form.get_by_label("SSH public keys").fill(key.with_suffix(".pub").read_text())
    form.get_by_role("button", name="Order").click()
    assert "invalid machine name 'Shop!'" in form.get_by_role("alert").inner_text()
    assert form.get_by_label("SSH public keys").input_value().startswith("ssh-ed25519 ")
    # over the allowance: which limit, by how much
    form.get_by_label("Name").fill("shop")
    form.get_by_label("External IP").fill("203.0.113.30")
    form.get_by_role("button", name="Order").click()
    assert ("your allowance is 0 external IPs; you use 0: this one would be 1 over"
            in form.get_by_role("alert").inner_text())
    form.get_by_label("External IP").fill("")
    form.get_by_role("button", name="Order").click()
    assert "ordered shop: waiting for an operator" in alice.get_by_role("alert").inner_text()
    alice.screenshot(path=shots / "customer-ordered.png", full_page=True)

    op = login(browser, pages, "op")
    assert op.get_by_role("heading", name="Pending orders").is_visible()
    row = op.locator("#pending tr", has_text="shop")
    assert "alice" in row.inner_text()
    op.screenshot(path=shots / "operator-pending.png", full_page=True)
    row.get_by_role("button", name="Approve").click()
    assert op.locator("#pending tr", has_text="shop").count() == 0

    # the customer follows the job: the log grows on the page by itself, then "ready"
    alice.goto(pages.url + "/")
    alice.get_by_role("link", name="create shop").click()
    log = alice.locator("#log")
    log.filter(has_text="[hosting] building shop.hosting.example.de").wait_for(timeout=120_000)
    alice.screenshot(path=shots / "job-running.png", full_page=True)
    alice.locator("#outcome", has_text=re.compile("^(ready|failed)$")).wait_for(timeout=(BOOT_TIMEOUT + 600) * 1000)
    outcome = alice.locator("#outcome").inner_text()
    assert outcome == "ready", log.inner_text()[-3000:] + "\n" + pages.log("worker0") + bootnet.console_tail(state)
    assert "booted and answering SSH with the host keys its install summary printed" in alice.content()
    assert "[hosting] ready" in log.inner_text() and "[backup] ready" in log.inner_text()
    alice.screenshot(path=shots / "job-ready.png", full_page=True)

    # the pair page: the verified fingerprints, ready times; the customer's own key logs in
    alice.get_by_role("link", name="shop").click()
    page = alice.content()
    pair = json.loads(site.run("show", "shop", "--json").stdout)
    assert pair["readiness"] == "ready"
    for kind in ("hosting", "backup"):
        assert pair[kind]["host_keys"] and all(k["fingerprint"] in page for k in pair[kind]["host_keys"])
        assert pair[kind]["ready"] in page
    assert "198.51.100.2" in page and "192.0.2.2" in page
    alice.screenshot(path=shots / "pair-ready.png", full_page=True)
    known_hosts = Path(site.config["ready"]["known_hosts"])
    r = guest_ssh(key, known_hosts, "198.51.100.2", "hostname -f")
    assert r.returncode == 0 and r.stdout.strip() == "shop.hosting.example.de", r.stderr

    # 360 px wide: every page fits
    narrow = login(browser, pages, "alice", viewport=NARROW)
    for path in ("/", "/pairs/shop/", alice.url.split(pages.url)[1]):
        narrow.goto(pages.url + path)
        fits(narrow)
    narrow.goto(pages.url + "/pairs/shop/")
    narrow.screenshot(path=shots / "pair-360.png", full_page=True)
    narrow.goto(pages.url + "/")
    narrow.screenshot(path=shots / "customer-360.png", full_page=True)
    op.goto(pages.url + "/operator/")
    op.screenshot(path=shots / "operator.png", full_page=True)
    styles = []                     # the admin's CSS comes from `web serve` itself (whitenoise)
    op.on("response", lambda r: styles.append(r.status) if r.url.endswith(".css") else None)
    op.get_by_role("link", name="Customers and allowances").click()
    assert op.get_by_role("link", name="Customers").first.is_visible() and styles and set(styles) == {200}

    # bob: the pair, its job and its actions do not exist for him
    bob = login(browser, pages, "bob")
    assert "shop" not in bob.locator("main table").inner_text()
    job_path = alice.url.split(pages.url)[1] if "/jobs/" in alice.url else None
    job_path = job_path or re.search(r'href="(/jobs/\d+/)"', alice.content()).group(1)
    for path in ("/pairs/shop/", job_path, job_path + "status/"):
        assert bob.goto(pages.url + path).status == 404, path
    r = bob.request.post(pages.url + "/pairs/shop/stop/")          # no CSRF token: refused before anything
    assert r.status == 403
    # logout: back to the login page, the pages need a login again
    alice.get_by_role("button", name="Log out").click()
    assert alice.url.endswith("/login/")
    alice.goto(pages.url + "/pairs/shop/")
    assert "/login/" in alice.url
