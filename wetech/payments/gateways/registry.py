"""The payment gateways by name: the one place that lists which gateways the site has.

The services ask `gateway_named(attempt.gateway)` or `configured_gateways()` and never import a
gateway module; a new gateway is one new module plus one `register_gateway` line here (tests
register theirs with `registered(...)`).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from wetech.payments.gateways.azampay import AzamPayGateway
from wetech.payments.gateways.base import PaymentGateway
from wetech.payments.gateways.pesapal import PesapalGateway

_gateways: dict[str, PaymentGateway] = {}


class UnknownGateway(LookupError):
    """No gateway of that name is registered."""


def register_gateway(gateway: PaymentGateway) -> PaymentGateway:
    """Make `gateway` available under `gateway.name`; refuses a name already taken."""
    if not gateway.name:
        raise ValueError(f"{gateway!r} has no name")
    if gateway.name in _gateways:
        raise ValueError(f"a gateway named {gateway.name!r} is already registered")
    _gateways[gateway.name] = gateway
    return gateway


def unregister_gateway(name: str) -> None:
    _gateways.pop(name, None)


@contextmanager
def registered(gateway: PaymentGateway) -> Iterator[PaymentGateway]:
    """`gateway` registered for the length of the block (tests, demos)."""
    register_gateway(gateway)
    try:
        yield gateway
    finally:
        unregister_gateway(gateway.name)


def gateway_named(name: str) -> PaymentGateway:
    """The gateway called `name`; UnknownGateway when there is none."""
    try:
        return _gateways[name]
    except KeyError:
        known = ", ".join(sorted(_gateways)) or "none"
        raise UnknownGateway(f"no payment gateway named {name!r} (registered: {known})") from None


def configured_gateways() -> list[PaymentGateway]:
    """The gateways the site may offer now: their settings are set (or the simulator's are)."""
    return [gateway for gateway in _gateways.values() if gateway.is_configured()]


register_gateway(PesapalGateway())
register_gateway(AzamPayGateway())
