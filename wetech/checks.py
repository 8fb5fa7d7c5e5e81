"""System checks for this project's own settings (run by `manage.py check`, `runserver`, and at
gunicorn's start through gunicorn.conf.py)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


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
