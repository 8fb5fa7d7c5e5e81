from django.apps import AppConfig


class WetechConfig(AppConfig):
    name = "wetech"
    verbose_name = "WeTech"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # checks: registers the system checks. tasks: registers the worker's tasks and their
        # schedule in every process, and the listener that turns a queued email into a task
        # (web processes queue emails too).
        from wetech import checks, tasks  # noqa: F401
