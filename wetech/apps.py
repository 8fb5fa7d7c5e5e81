from django.apps import AppConfig


class WetechConfig(AppConfig):
    name = "wetech"
    verbose_name = "WeTech"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from wetech import checks  # noqa: F401  (registers the system checks)
