"""One HTTP client per gateway per process, built from settings.

One client means one `requests.Session` with its keep-alive pool. Tests that change gateway
settings get fresh clients automatically (`setting_changed`), or call `reset_gateway_clients()`.
"""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from wetech.payments.gateways.base import missing_settings_error
from wetech.payments.gateways.retry import CircuitBreaker, RetryPolicy

T = TypeVar("T")

# Settings that change what a client is built from.
_CLIENT_SETTING_PREFIXES = ("PESAPAL_", "AZAMPAY_", "GATEWAY_")

_clients: dict[str, object] = {}
_lock = threading.Lock()


def missing_settings(names) -> list[str]:
    return [name for name in names if not getattr(settings, name, "")]


def require_settings(gateway: str, names) -> None:
    """GatewayMisconfigured naming every one of `names` that is not set."""
    missing = missing_settings(names)
    if missing:
        raise missing_settings_error(gateway, missing)


def transport_options(gateway: str) -> dict:
    return {
        "connect_timeout": settings.GATEWAY_CONNECT_TIMEOUT,
        "read_timeout": settings.GATEWAY_READ_TIMEOUT,
        "policy": RetryPolicy.from_settings(),
        "breaker": CircuitBreaker(gateway),
    }


def shared_client(gateway: str, build: Callable[[], T]) -> T:
    """This process's client for `gateway`, built once by `build()`."""
    with _lock:
        client = _clients.get(gateway)
        if client is None:
            client = _clients[gateway] = build()
        return client


def reset_gateway_clients() -> None:
    with _lock:
        for client in _clients.values():
            client.transport.session.close()
        _clients.clear()


@receiver(setting_changed)
def _settings_changed(*, setting, **kwargs):
    if setting.startswith(_CLIENT_SETTING_PREFIXES) or setting == "SITE_URL":
        reset_gateway_clients()
