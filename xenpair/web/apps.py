from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "xenpair.web"
    label = "xenpair_web"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "xenpair self-service"
