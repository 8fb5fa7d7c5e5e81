"""Per-process gateway clients built from settings, and the Pesapal IPN id.

One client (so one `requests.Session` with its keep-alive pool) per gateway per process. Tests
that change gateway settings get fresh clients automatically (`setting_changed`), or call
`reset_gateway_clients()`.
"""

import hashlib
import logging
import threading

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver

from wetech.payments.gateways.azampay import AzamPayClient
from wetech.payments.gateways.base import IpnRegistration, missing_settings_error
from wetech.payments.gateways.pesapal import PesapalClient
from wetech.payments.gateways.retry import CircuitBreaker, RetryPolicy

logger = logging.getLogger("wetech.payments.gateways")

PESAPAL_SETTINGS = ("PESAPAL_BASE_URL", "PESAPAL_CONSUMER_KEY", "PESAPAL_CONSUMER_SECRET")
AZAMPAY_SETTINGS = (
    "AZAMPAY_AUTH_URL",
    "AZAMPAY_CHECKOUT_URL",
    "AZAMPAY_APP_NAME",
    "AZAMPAY_CLIENT_ID",
    "AZAMPAY_CLIENT_SECRET",
    "AZAMPAY_API_KEY",
    "AZAMPAY_CALLBACK_SECRET",
)
IPN_ID_CACHE_SECONDS = 24 * 3600

_clients: dict[str, object] = {}
_lock = threading.Lock()


def _missing(names) -> list[str]:
    return [name for name in names if not getattr(settings, name, "")]


def pesapal_configured() -> bool:
    """Offer Pesapal? True when its settings are set (the simulator fills them in)."""
    return not _missing(PESAPAL_SETTINGS)


def azampay_configured() -> bool:
    """Offer AzamPay? True when its settings are set (the simulator fills them in)."""
    return not _missing(AZAMPAY_SETTINGS)


def _transport_options(gateway: str) -> dict:
    return {
        "connect_timeout": settings.GATEWAY_CONNECT_TIMEOUT,
        "read_timeout": settings.GATEWAY_READ_TIMEOUT,
        "policy": RetryPolicy.from_settings(),
        "breaker": CircuitBreaker(gateway),
    }


def _build_pesapal() -> PesapalClient:
    missing = _missing(PESAPAL_SETTINGS)
    if missing:
        raise missing_settings_error("pesapal", missing)
    return PesapalClient(
        base_url=settings.PESAPAL_BASE_URL,
        consumer_key=settings.PESAPAL_CONSUMER_KEY,
        consumer_secret=settings.PESAPAL_CONSUMER_SECRET,
        **_transport_options("pesapal"),
    )


def _build_azampay() -> AzamPayClient:
    missing = _missing(AZAMPAY_SETTINGS)
    if missing:
        raise missing_settings_error("azampay", missing)
    return AzamPayClient(
        auth_url=settings.AZAMPAY_AUTH_URL,
        checkout_url=settings.AZAMPAY_CHECKOUT_URL,
        app_name=settings.AZAMPAY_APP_NAME,
        client_id=settings.AZAMPAY_CLIENT_ID,
        client_secret=settings.AZAMPAY_CLIENT_SECRET,
        api_key=settings.AZAMPAY_API_KEY,
        status_query=settings.AZAMPAY_STATUS_QUERY,
        request_origin=settings.SITE_URL,
        **_transport_options("azampay"),
    )


def _client(name, build):
    with _lock:
        client = _clients.get(name)
        if client is None:
            client = _clients[name] = build()
        return client


def get_pesapal_client() -> PesapalClient:
    """This process's Pesapal client; GatewayMisconfigured names every missing setting."""
    return _client("pesapal", _build_pesapal)


def get_azampay_client() -> AzamPayClient:
    """This process's AzamPay client; GatewayMisconfigured names every missing setting."""
    return _client("azampay", _build_azampay)


def reset_gateway_clients() -> None:
    with _lock:
        for client in _clients.values():
            client.transport.session.close()
        _clients.clear()


@receiver(setting_changed)
def _settings_changed(*, setting, **kwargs):
    if setting.startswith(("PESAPAL_", "AZAMPAY_", "GATEWAY_")) or setting == "SITE_URL":
        reset_gateway_clients()


def pesapal_ipn_url() -> str:
    return f"{settings.SITE_URL}/payments/pesapal/ipn/"


def _ipn_cache_key(url: str) -> str:
    # Per environment and account: a sandbox notification id must never reach live.
    identity = f"{settings.PESAPAL_BASE_URL}|{settings.PESAPAL_CONSUMER_KEY}|{url}"
    return f"pesapal-ipn-id:{hashlib.sha256(identity.encode()).hexdigest()[:32]}"


def pesapal_register_ipn() -> IpnRegistration:
    """Find or register this site's IPN URL and remember its id in the cache."""
    url = pesapal_ipn_url()
    registration = get_pesapal_client().ensure_ipn(url)
    try:
        cache.set(_ipn_cache_key(url), registration.ipn_id, timeout=IPN_ID_CACHE_SECONDS)
    except Exception:
        logger.warning("pesapal IPN id cache unavailable", exc_info=True)
    return registration


def pesapal_notification_id() -> str:
    """The `notification_id` for orders: `PESAPAL_IPN_ID`, else the registered id (cached)."""
    if settings.PESAPAL_IPN_ID:
        return settings.PESAPAL_IPN_ID
    try:
        cached = cache.get(_ipn_cache_key(pesapal_ipn_url()))
    except Exception:
        logger.warning("pesapal IPN id cache unavailable", exc_info=True)
        cached = None
    return cached or pesapal_register_ipn().ipn_id
