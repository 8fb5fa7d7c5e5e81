"""System checks for this project's own settings (run by `manage.py check`, `runserver`, and at
gunicorn's start through gunicorn.conf.py)."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from wetech.broker import broker_kind, sqlite_queue_path


@register(Tags.security)
def gateway_simulator_needs_debug(app_configs, **kwargs):
    """The simulators make every invoice payable for free: never outside development."""
    if settings.GATEWAY_SIMULATOR and not settings.DEBUG:
        return [
            Error(
                "GATEWAY_SIMULATOR is on while DEBUG is off: the gateway simulators make every "
                "invoice payable for free, so they may only run in development.",
                hint="Unset GATEWAY_SIMULATOR (or set it to false) in production; "
                "`make run` sets DEBUG=true together with it.",
                id="wetech.E001",
            )
        ]
    return []


@register(Tags.compatibility, deploy=True)
def embedded_task_queue_in_production(app_configs, **kwargs):
    """The embedded queue is a file on one machine: fine for `make run`, wrong for a site whose
    workers (and web nodes) run on several machines, each of which would queue on its own."""
    if not settings.DEBUG and broker_kind(settings.TASK_BROKER_URL) == "sqlite":
        return [
            Warning(
                "The background worker's queue is the embedded SQLite file "
                f"({sqlite_queue_path(settings.TASK_BROKER_URL, base_dir=settings.BASE_DIR)}): "
                "each machine has a queue of its own, so work queued by one web node is only ever "
                "done by a worker on that machine.",
                hint="Set TASK_BROKER_URL (or REDIS_URL) to a Redis URL shared by every web node "
                "and worker; keep the embedded queue for a single machine only.",
                id="wetech.W001",
            )
        ]
    return []
