"""The self-service job queue: `xenpair web worker` runs approved orders with the core's plan/apply.

Real processes: `xenpair web migrate` and `xenpair web worker` through the CLI, a real SQLite
database, real xen-create-image builds (tiny rootfs). This test process reads the same database
through Django's ORM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest
import yaml

django = pytest.importorskip("django", reason="the web extra is installed by make test")


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """(web config section, models): one database for the module, migrated by `xenpair web migrate`."""
    d = tmp_path_factory.mktemp("web")
    section = {"database": str(d / "db.sqlite3"), "secret_key_file": str(d / "secret_key"), "heartbeat": 0.5,
               "allowed_hosts": ["testserver", "127.0.0.1"]}
    if os.environ.get("XENPAIR_TEST_POSTGRESQL"):     # {"name": ..., "user": ..., ...}: this module on PostgreSQL
        section["postgresql"] = json.loads(os.environ["XENPAIR_TEST_POSTGRESQL"])
    cfg = d / "config.yaml"
    # the pages in this process read this config's registry (none yet: no pairs); the worker and
    # `serve` run with the site's config
    cfg.write_text(yaml.safe_dump({"web": section, "registry": {"hosting": str(d / "hosting.csv"),
                                                                "backup": str(d / "backup.csv")}}))
    from tests.conftest import XENPAIR

    r = subprocess.run(XENPAIR + ["--config", str(cfg), "web", "migrate"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert oct((d / "secret_key").stat().st_mode & 0o777) == "0o600"
    os.environ["XENPAIR_CONFIG"] = str(cfg)
    os.environ["DJANGO_SETTINGS_MODULE"] = "xenpair.web.settings"
    django.setup()
    from xenpair.web import models

    yield section, models
    os.environ.pop("XENPAIR_CONFIG", None)


@pytest.fixture
def site(tiny_site, web):
    tiny_site.config["web"] = web[0]
    tiny_site.write_config()
    web[1].Job.objects.all().delete()
    return tiny_site


def test_a_create_job_builds_the_pair_with_the_core(site, web, tmp_path):
    Job = web[1].Job
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    job = Job.objects.create(action="create", name="shop", params={
        "package": "small", "ssh_keys": key.with_suffix(".pub").read_text(), "mail": False})
    r = site.run("web", "worker", "--once")
    assert r.returncode == 0 and "1 job(s) run" in r.stdout, r.stderr
    job.refresh_from_db()
    assert job.state == "done", job.log
    assert re.fullmatch(r"[^:]+:[0-9]+", job.worker) and job.finished        # host:pid of the worker
    assert "[hosting] building shop.hosting.example.de on local" in job.log
    assert "[hosting] built in" in job.log and "[backup] built in" in job.log
    assert job.result["state"] == "created" and job.result["hosting"]["roles"] == ["xenpair-authorized-keys",
                                                                                 "xenpair-identity"]
    summary = job.result["hosting"]["summary"]
    assert summary["ssh_fingerprints"] and "root_password" not in summary          # never in the web database
    password = next(line for line in open(site.root / "xenpair-logs" / os.listdir(site.root / "xenpair-logs")[0])
                    if "Root Password" in line).split(":")[-1].strip()
    assert password and password not in job.log and password not in str(job.result)
    assert "shop.hosting.example.de;small" in site.hosting_csv.read_text()


def test_two_workers_never_run_a_job_twice(site, web):
    Job = web[1].Job
    # jobs this worker refuses at once: many claims in little time, the race is what is tested
    Job.objects.bulk_create([Job(action="destroy", name=f"j{i}") for i in range(30)])
    procs = [site.popen("web", "worker", "--once") for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    ran = [int(out.split("xenpair web worker: ")[1].split()[0]) for out, _ in outs]
    assert sum(ran) == 30
    for job in Job.objects.all():
        assert job.state == "failed" and job.log.count("failed:") == 1, job.log
        assert f"no pair named {job.name!r}" in job.log


def test_a_killed_worker_leaves_its_job_failed_with_repair_named(site, web, tmp_path):
    Job = web[1].Job
    slow = tmp_path / "slow-xen-create-image"           # a build that takes long enough to kill it
    slow.write_text("#!/bin/sh\nsleep 317\nexec xen-create-image \"$@\"\n")
    slow.chmod(0o755)
    site.config["xen_create_image"]["command"] = str(slow)
    site.write_config()
    job = Job.objects.create(action="create", name="half", params={"package": "small", "mail": False})
    worker = site.popen("web", "worker", "--once")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-f", str(slow)],
                                                         capture_output=True).returncode != 0:
        time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    subprocess.run(["pkill", "-KILL", "-f", str(slow)])
    job.refresh_from_db()
    assert job.state == "running"                           # nobody knows yet
    time.sleep(2)                                           # three missed heartbeats of 0.5 s
    r = site.run("web", "worker", "--once")
    assert r.returncode == 0, r.stderr
    job.refresh_from_db()
    assert job.state == "failed"
    assert "stopped during this job" in job.log and "'xenpair repair half'" in job.log
    shown = site.run("show", "half")
    assert shown.returncode == 0 and "creating" in shown.stdout


def test_a_stopped_worker_records_its_job_failed_and_exits(site, web, tmp_path):
    """SIGTERM (systemctl stop) in the middle of a build: the core stops the build as for the
    CLI, the job says why and names repair, the worker exits 143."""
    Job = web[1].Job
    slow = tmp_path / "slow-xen-create-image"
    slow.write_text("#!/bin/sh\nsleep 319\nexec xen-create-image \"$@\"\n")
    slow.chmod(0o755)
    site.config["xen_create_image"]["command"] = str(slow)
    site.write_config()
    job = Job.objects.create(action="create", name="cut", params={"package": "small", "mail": False})
    worker = site.popen("web", "worker")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-f", str(slow)],
                                                         capture_output=True).returncode != 0:
        time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 143, err
    assert subprocess.run(["pgrep", "-f", str(slow)], capture_output=True).returncode == 1   # build stopped
    job.refresh_from_db()
    assert job.state == "failed" and job.finished
    assert "the worker was stopped (SIGTERM)" in job.log and "'xenpair repair cut'" in job.log, job.log
    assert "failed" in site.run("show", "cut").stdout


@pytest.fixture
def shop(web, tmp_path):
    """A clean database with one customer (1 pair, no external IP) and a public key."""
    from axes.models import AccessAttempt
    from django.contrib.auth.models import User

    m = web[1]
    for model in (m.Job, m.Order, m.Pair, m.AuditEvent, m.Customer, User, AccessAttempt):
        model.objects.all().delete()
    alice = m.Customer.objects.create(user=User.objects.create_user("alice", password="x" * 20), max_pairs=1)
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return m, alice, key.with_suffix(".pub").read_text()


def test_orders_are_checked_against_the_allowance_with_the_limit_named(shop):
    from xenpair.errors import BadInput
    from xenpair.web import orders

    m, alice, key = shop
    alice.packages = ["small"]
    alice.save()
    with pytest.raises(BadInput, match=r"not ordered: package big is not in your allowance \(allowed: small\)"):
        orders.place(alice, "shop", "big", None, key)
    with pytest.raises(BadInput, match=r"your allowance is 0 external IPs; you use 0: this one would be 1 over"):
        orders.place(alice, "shop", "small", "203.0.113.10", key)
    with pytest.raises(BadInput, match=r"invalid machine name 'Shop!'"):
        orders.place(alice, "Shop!", "small", None, key)
    with pytest.raises(BadInput, match=r"invalid SSH public key: 'from=\"x\"' is not a key type"):
        orders.place(alice, "shop", "small", None, 'from="x" ' + key)
    order = orders.place(alice, "shop", "small", None, key)
    assert order.state == "pending" and not m.Job.objects.exists()
    with pytest.raises(BadInput, match=r"your allowance is 1 pair; you have 1 \(with orders not yet built\): "
                                       r"this one would be 1 over"):
        orders.place(alice, "shop2", "small", None, key)
    assert m.Pair.objects.get(name="shop").customer == alice and m.Order.objects.count() == 1


def test_one_name_one_customer(shop):
    from django.contrib.auth.models import User

    from xenpair.errors import BadInput
    from xenpair.web import orders

    m, alice, key = shop
    bob = m.Customer.objects.create(user=User.objects.create_user("bob", password="y" * 20), max_pairs=5)
    orders.place(alice, "shop", "small", None, key)
    with pytest.raises(BadInput, match="the name 'shop' is taken"):
        orders.place(bob, "shop", "small", None, key)
    assert m.Order.objects.filter(customer=bob).count() == 0


def test_approve_once_reject_frees_the_name_everything_audited(shop):
    from django.contrib.auth.models import User

    from xenpair.errors import BadInput
    from xenpair.web import orders

    m, alice, key = shop
    operator = User.objects.create_user("op", password="z" * 20, is_staff=True)
    order = orders.place(alice, "shop", "small", None, key)
    job = orders.approve(order, operator, "198.51.100.7")
    assert (job.action, job.name, job.state, job.params["package"]) == ("create", "shop", "queued", "small")
    assert job.params["ssh_keys"].strip() == " ".join(key.split())
    with pytest.raises(BadInput, match="was decided already"):
        orders.approve(order, operator)
    alice.max_pairs = 2
    alice.save()
    other = orders.place(alice, "blog", "small", None, key)
    orders.reject(other, operator, "not today")
    assert not m.Pair.objects.filter(name="blog").exists()
    assert [(e.actor, e.action, e.target, e.result) for e in m.AuditEvent.objects.order_by("id")] == [
        ("alice", "order", "shop", "placed (small)"), ("op", "approve", "shop", f"create: job {job.pk}"),
        ("alice", "order", "blog", "placed (small)"), ("op", "reject", "blog", "not today")]
    assert m.AuditEvent.objects.filter(action="approve").get().address == "198.51.100.7"


def test_auto_approve_and_the_worker_checks_the_allowance_again(site, shop):
    from xenpair.web import orders

    m, alice, key = shop
    alice.auto_approve = True
    alice.save()
    order = orders.place(alice, "shop", "small", None, key)
    job = order.job
    job.params = {**job.params, "start": False}           # no toolstack here: build only
    job.save()
    alice.max_pairs = 0                                      # shrunk after the approval
    alice.save()
    r = site.run("web", "worker", "--once")
    assert r.returncode == 0, r.stderr
    job.refresh_from_db()
    assert job.state == "failed" and "not built: your allowance is 0 pairs" in job.log
    assert not site.hosting_csv.exists()


def test_pages_show_each_customer_only_their_own(shop):
    """Django's test client: the permission matrix of the pages (the browser flow comes with the
    pages' next part)."""
    from django.contrib.auth.models import User
    from django.test import Client

    from xenpair.web import orders

    m, alice, key = shop
    alice.max_pairs = 3
    alice.save()
    bob = m.Customer.objects.create(user=User.objects.create_user("bob", password="y" * 20), max_pairs=1)
    op = User.objects.create_user("op", password="z" * 20, is_staff=True)
    order = orders.place(alice, "shop", "small", None, key)
    job = orders.approve(order, op)
    pending = orders.place(alice, "blog", "small", None, key)

    anon = Client()
    assert anon.get("/").status_code == 302 and anon.get("/").url.startswith("/login/")
    assert anon.get(f"/jobs/{job.pk}/").status_code == 302
    a, b, o = Client(), Client(), Client()
    a.force_login(alice.user)
    b.force_login(bob.user)
    o.force_login(op)
    assert a.get(f"/jobs/{job.pk}/").status_code == 200
    assert b.get(f"/jobs/{job.pk}/").status_code == 404               # not 403: it does not exist for bob
    assert "shop" in a.get("/").content.decode() and "shop" not in b.get("/").content.decode()
    assert o.get(f"/jobs/{job.pk}/").status_code == 200
    # a customer cannot approve: the operator pages send them to the admin login
    r = a.post(f"/operator/orders/{pending.pk}/approve/")
    assert r.status_code == 302 and "/admin/login/" in r.url
    pending.refresh_from_db()
    assert pending.state == "pending"
    assert o.post(f"/operator/orders/{pending.pk}/approve/").status_code == 302
    pending.refresh_from_db()
    assert pending.state == "approved"
    assert o.post(f"/operator/orders/{pending.pk}/delete/").status_code == 404
    # orders: a bad name is said on the page; GET changes nothing
    r = a.post("/order/", {"name": "Bad!", "package": "small", "ssh_keys": key}, follow=True)
    assert "invalid machine name &#x27;Bad!&#x27;" in r.content.decode()
    assert a.get("/order/").status_code == 405


def test_every_change_needs_the_csrf_token_and_logins_are_throttled(shop):
    from django.test import Client

    m, alice, key = shop
    a = Client(enforce_csrf_checks=True)
    a.force_login(alice.user)
    assert a.post("/order/", {"name": "shop", "package": "small", "ssh_keys": key}).status_code == 403
    assert not m.Order.objects.exists()
    c = Client()
    for _ in range(4):
        assert c.post("/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    assert c.post("/login/", {"username": "alice", "password": "wrong"}).status_code == 429     # web.login_failures 5
    r = c.post("/login/", {"username": "alice", "password": "x" * 20})
    assert r.status_code == 429                                         # locked (django-axes), even with the right one
    r = Client().get("/")
    assert r.status_code == 302


def test_serve_answers_with_gunicorn(site):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = site.popen("web", "serve", "--listen", f"127.0.0.1:{port}", "--workers", "1")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, server.communicate(timeout=5)
                time.sleep(0.2)
        assert r.status == 200 and b"Log in" in r.read()
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "Secure" in r.headers["Set-Cookie"] and "SameSite=Strict" in r.headers["Set-Cookie"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


def test_a_customer_starts_stops_rebuilds_and_removes_their_pair(site, shop, fake_xl):
    """The pair page's actions, through the views and the worker (real builds; STAND-IN toolstack:
    `xl` needs a hypervisor — the recording fake_xl; the real boot is in test_web_browser)."""
    from django.contrib.auth.models import User
    from django.test import Client, override_settings

    from xenpair.config import load_config

    m, alice, key = shop
    xl, running = fake_xl
    site.config["toolstack"] = str(xl)
    site.write_config()
    alice.auto_approve, alice.may_rebuild = True, True
    alice.save()
    bob = m.Customer.objects.create(user=User.objects.create_user("bob", password="y" * 20), max_pairs=1)
    op = User.objects.create_user("op", password="z" * 20, is_staff=True)
    a, b, o = Client(), Client(), Client()
    a.force_login(alice.user)
    b.force_login(bob.user)
    o.force_login(op)

    def worker(**params):
        """Run the queued job (PARAMS changed first: nothing to wait for without a guest)."""
        job = m.Job.objects.get(state="queued")
        job.params |= params
        job.save()
        r = site.run("web", "worker", "--once")
        assert r.returncode == 0, r.stderr
        job.refresh_from_db()
        return job

    with override_settings(CONFIG=load_config(str(site.config_path))[0]):     # the pages read the site's registry
        r = a.post("/order/", {"name": "shop", "package": "small", "ssh_keys": key})
        assert r.status_code == 302 and r.url.startswith("/jobs/")            # auto-approve: to the job's page
        status = a.get(r.url + "status/?offset=0").json()
        assert status["state"] == "queued" and status["outcome"] == "queued"
        assert b.get(r.url + "status/").status_code == 404
        assert worker(start=False, wait=None).state == "done"
        status = a.get(r.url + "status/?offset=20").json()
        assert status["state"] == "done" and status["offset"] > 20 and "built in" in status["log"]

        page = a.get("/pairs/shop/").content.decode()
        fingerprints = json.loads(site.hosting_csv.with_name(site.hosting_csv.name + ".machines.json").read_text())[
            "machines"]["shop.hosting.example.de"]["host_keys"]
        assert fingerprints and all(k["fingerprint"] in page for k in fingerprints)
        assert "shop.hosting.example.de" in page and "shop.backup.example.de" in page
        assert "Start hosting machine" in page and "created" in a.get("/").content.decode()
        for url in ("/pairs/shop/", "/pairs/nosuch/"):
            assert b.get(url).status_code == 404
        for action in ("start", "stop", "rebuild", "remove"):                 # bob: as if it did not exist
            assert b.post(f"/pairs/shop/{action}/").status_code == 404
        assert a.get("/pairs/shop/stop/").status_code == 405                  # a change is a POST
        assert a.post("/pairs/shop/reboot/").status_code == 404
        assert not m.Job.objects.filter(state="queued").exists()

        assert a.post("/pairs/shop/start/").status_code == 302
        r = a.post("/pairs/shop/stop/", follow=True)                           # one job at a time per pair
        assert "shop has a job queued (start the hosting machine)" in r.content.decode()
        job = worker(wait=None)
        assert job.state == "done" and "[hosting] start: done" in job.log
        assert sorted(p.name for p in running.iterdir()) == ["shop.hosting.example.de"]   # the hosting one only
        assert a.post("/pairs/shop/stop/").status_code == 302
        assert worker().state == "done" and list(running.iterdir()) == []

        built = json.loads(site.run("show", "shop", "--json").stdout)
        r = a.post("/pairs/shop/rebuild/")                                    # may_rebuild: no operator
        assert r.status_code == 302 and r.url.startswith("/jobs/")
        job = worker(start=False, wait=None)
        assert job.state == "done" and "building shop.hosting.example.de" in job.log, job.log
        assert "building shop.backup" not in job.log
        shown = json.loads(site.run("show", "shop", "--json").stdout)
        assert shown["hosting"]["created"] != built["hosting"]["created"]
        assert shown["backup"]["created"] == built["backup"]["created"]       # the backups stay

        r = a.post("/pairs/shop/remove/", follow=True)                        # may_remove false: an operator
        assert "remove of shop: waiting for an operator" in r.content.decode()
        pending = m.Order.objects.get(state="pending")
        assert (pending.action, pending.keep_backup) == ("destroy", True)
        assert "remove" in o.get("/operator/").content.decode()
        assert o.post(f"/operator/orders/{pending.pk}/approve/").status_code == 302
        assert worker().state == "done"
        shown = json.loads(site.run("show", "shop", "--json").stdout)
        assert shown["hosting"]["state"] == "destroyed" and shown["backup"]["state"] != "destroyed"
        assert "Start hosting machine" not in a.get("/pairs/shop/").content.decode()
    events = [(e.actor, e.action, e.result.split(" (worker")[0]) for e in m.AuditEvent.objects.order_by("id")]
    assert [e[:2] for e in events] == [
        ("alice", "order"), ("xenpair", "approve"), ("xenpair", "create"), ("alice", "start"), ("xenpair", "start"),
        ("alice", "stop"), ("xenpair", "stop"), ("alice", "rebuild"), ("xenpair", "approve"), ("xenpair", "rebuild"),
        ("alice", "destroy"), ("op", "approve"), ("xenpair", "destroy")]
    assert all(result.endswith(" done") for actor, action, result in events
               if actor == "xenpair" and action != "approve"), events


def test_the_audit_log_has_the_clients_address_behind_the_local_proxy(shop):
    from django.test import Client

    m, alice, key = shop
    alice.max_pairs = 3
    alice.save()
    c = Client()
    c.force_login(alice.user)
    # nginx on this host: REMOTE_ADDR is loopback, the client is the last X-Forwarded-For entry
    c.post("/order/", {"name": "a1", "package": "small", "ssh_keys": key}, REMOTE_ADDR="127.0.0.1",
           HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.5")
    # anyone else: the header is theirs to invent, REMOTE_ADDR counts
    c.post("/order/", {"name": "a2", "package": "small", "ssh_keys": key}, REMOTE_ADDR="198.51.100.7",
           HTTP_X_FORWARDED_FOR="203.0.113.5")
    c.post("/order/", {"name": "a3", "package": "small", "ssh_keys": key}, REMOTE_ADDR="::1",
           HTTP_X_FORWARDED_FOR="not-an-address")
    assert [(e.target, e.address) for e in m.AuditEvent.objects.order_by("id")] == [
        ("a1", "203.0.113.5"), ("a2", "198.51.100.7"), ("a3", "::1")]


def test_orders_for_one_name_at_the_same_moment_one_wins(shop):
    """Eight customers order the same name at once (threads, each its own database connection):
    the name's unique row decides, the others are told it is taken."""
    import threading

    from django.contrib.auth.models import User
    from django.db import connection

    from xenpair.errors import BadInput
    from xenpair.web import orders

    m, alice, key = shop
    customers = [m.Customer.objects.create(user=User.objects.create_user(f"c{i}", password="p" * 20), max_pairs=1)
                 for i in range(8)]
    start, results = threading.Barrier(8), {}

    def order(c):
        try:
            start.wait()
            results[c.pk] = orders.place(c, "same", "small", None, key)
        except BadInput as e:
            results[c.pk] = str(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=order, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results.values() if not isinstance(r, str)]
    assert len(won) == 1 and len(results) == 8
    assert all("the name 'same' is taken" in r for r in results.values() if isinstance(r, str))
    assert m.Pair.objects.get(name="same").customer_id == won[0].customer_id


def test_two_workers_building_at_once_get_different_addresses(site, shop):
    from django.contrib.auth.models import User

    from xenpair.web import orders

    m, alice, key = shop
    bob = m.Customer.objects.create(user=User.objects.create_user("bob", password="y" * 20), max_pairs=1)
    op = User.objects.create_user("op", password="z" * 20, is_staff=True)
    for customer, name in ((alice, "one"), (bob, "two")):
        job = orders.approve(orders.place(customer, name, "small", None, key), op)
        job.params |= {"start": False, "wait": None, "mail": False}
        job.save()
    workers = [site.popen("web", "worker", "--once") for _ in range(2)]
    for w in workers:
        w.communicate(timeout=300)
    assert [j.state for j in m.Job.objects.order_by("id")] == ["done", "done"], [j.log for j in m.Job.objects.all()]
    rows = [line.split(";") for line in site.hosting_csv.read_text().splitlines()[1:]]
    addresses = {r[1].split(".")[0]: r[0] for r in rows if r[1].startswith(("one.", "two."))}
    assert len(addresses) == 2 and addresses["one"] != addresses["two"], addresses
