"""Payment gateway clients (Pesapal, AzamPay), their retry policy and breaker, and simulators.

Import the factories from here: `get_pesapal_client()`, `get_azampay_client()`,
`pesapal_notification_id()`; the dataclasses and errors live in `wetech.payments.gateways.base`.
"""

from wetech.payments.gateways.registry import (
    azampay_configured,
    get_azampay_client,
    get_pesapal_client,
    pesapal_configured,
    pesapal_notification_id,
    reset_gateway_clients,
)

__all__ = [
    "azampay_configured",
    "get_azampay_client",
    "get_pesapal_client",
    "pesapal_configured",
    "pesapal_notification_id",
    "reset_gateway_clients",
]
