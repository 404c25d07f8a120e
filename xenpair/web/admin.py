"""Django's admin for operators: customers and their allowances (auto-approve among them). Orders,
jobs and the audit log are read-only here — an order is decided on the operator page, which
turns it into a job — and every change made here goes to the audit log with the address."""

from django.contrib import admin

from xenpair.web import models
from xenpair.web.client import client_address
from xenpair.web.orders import audit


class Audited(admin.ModelAdmin):
    def _audit(self, request, obj, action: str, message) -> None:
        audit(request.user, f"admin {action} {obj._meta.verbose_name}", str(obj)[:200], client_address(request),
              str(message)[:400] if message else "")

    def log_addition(self, request, obj, message):
        self._audit(request, obj, "add", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "change", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "delete", "")
        return super().log_deletions(request, queryset)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Customer)
class CustomerAdmin(Audited):
    list_display = ("__str__", "max_pairs", "external_ips", "packages", "auto_approve", "may_rebuild", "may_remove")
    list_editable = ("auto_approve",)


@admin.register(models.Pair)
class PairAdmin(Audited):
    list_display = ("name", "customer", "external_ip")
    search_fields = ("name",)


@admin.register(models.Order)
class OrderAdmin(ReadOnly):
    list_display = ("id", "action", "name", "customer", "package", "state", "created", "decided_by")
    list_filter = ("state", "action")


@admin.register(models.Job)
class JobAdmin(ReadOnly):
    list_display = ("id", "action", "name", "customer", "state", "worker", "created", "finished")
    list_filter = ("state", "action")


@admin.register(models.AuditEvent)
class AuditEventAdmin(ReadOnly):
    list_display = ("when", "actor", "action", "target", "address", "result")
    list_filter = ("action",)
    search_fields = ("actor", "target")
