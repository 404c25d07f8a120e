from django.contrib import admin

from xenpair.web import models

for model in (models.Customer, models.Pair, models.Order, models.AuditEvent):
    admin.site.register(model)


@admin.register(models.Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "action", "name", "state", "worker", "created", "finished")
    readonly_fields = ("log", "result", "worker", "claimed", "heartbeat", "finished")
