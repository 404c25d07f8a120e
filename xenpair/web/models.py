"""What the web application keeps: customers and their allowances, orders, jobs, the audit log.

The pairs themselves stay in the registry (the CLI's source of truth); `Pair` only says whose a
pair is. No root password is ever stored here.
"""

from django.conf import settings
from django.db import models


class Customer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer")
    packages = models.JSONField(default=list, blank=True, help_text="package tiers allowed; empty: all")
    max_pairs = models.PositiveIntegerField(default=1)
    external_ips = models.PositiveIntegerField(default=0, help_text="how many pairs may have an external IP")
    auto_approve = models.BooleanField(default=False)
    may_rebuild = models.BooleanField(default=False, help_text="rebuild the hosting machine without an operator")
    may_remove = models.BooleanField(default=False, help_text="remove a pair without an operator")

    def __str__(self) -> str:
        return self.user.get_username()


class Pair(models.Model):
    name = models.CharField(max_length=63, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="pairs")
    ssh_keys = models.TextField(help_text="the customer's public keys for the hosting root, one a line")
    external_ip = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    ACTIONS = [("create", "create"), ("rebuild", "rebuild the hosting machine"), ("destroy", "remove")]
    JOB_ACTIONS = ACTIONS + [("start", "start the hosting machine"), ("stop", "stop the hosting machine")]
    STATES = [("pending", "pending"), ("approved", "approved"), ("rejected", "rejected")]
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    action = models.CharField(max_length=10, choices=ACTIONS)
    name = models.CharField(max_length=63)
    package = models.CharField(max_length=63, blank=True)
    external_ip = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    ssh_keys = models.TextField(blank=True)
    keep_backup = models.BooleanField(default=True, help_text="removal: keep the backup machine and its backups")
    state = models.CharField(max_length=10, choices=STATES, default="pending")
    created = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided = models.DateTimeField(null=True, blank=True)


class Job(models.Model):
    """An approved order carried out by `xenpair web worker`. Claimed by one worker only (a
    conditional UPDATE); a worker's heartbeat that stops marks its job failed (jobs.reap)."""

    STATES = [("queued", "queued"), ("running", "running"), ("done", "done"), ("failed", "failed")]
    order = models.OneToOneField(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="job")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs",
                                 help_text="whose pair (none: an operator's job)")
    action = models.CharField(max_length=10, choices=Order.JOB_ACTIONS)
    name = models.CharField(max_length=63)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=STATES, default="queued", db_index=True)
    worker = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    claimed = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    log = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)

    @property
    def took_s(self) -> int | None:
        return round((self.finished - self.created).total_seconds()) if self.finished else None


class AuditEvent(models.Model):
    when = models.DateTimeField(auto_now_add=True, db_index=True)
    who = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    actor = models.CharField(max_length=200, help_text="user name, or the worker")
    action = models.CharField(max_length=100)
    target = models.CharField(max_length=200, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    result = models.CharField(max_length=500, blank=True)
