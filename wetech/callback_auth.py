"""Who may deliver an AzamPay callback: the secret path segment and the allowed networks.

AzamPay signs nothing we can rely on (gateways.md B7), so the callback URL's secret is what
guards it. `AZAMPAY_CALLBACK_SECRET` may hold several comma-separated secrets so it can be
rotated without losing callbacks: the FIRST is the one registered with AzamPay (every URL we
build uses it), and every one of them is accepted. `AZAMPAY_CALLBACK_ALLOWED_NETWORKS` optionally
narrows where a callback may come from (the client IP by the TRUSTED_PROXY_COUNT rule).

The parse functions run when the settings load (so a bad value stops start-up); the others read
`django.conf.settings` on every call, so a test's settings override takes effect.
"""

import hmac
import ipaddress

from django.conf import settings

MIN_CALLBACK_SECRET_LENGTH = 32
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_secrets(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_callback_secrets(value: str) -> list[str]:
    """The secrets in `value`; ValueError (never quoting a secret) when one is too short."""
    secrets = split_secrets(value)
    short = [
        index for index, secret in enumerate(secrets, 1) if len(secret) < MIN_CALLBACK_SECRET_LENGTH
    ]
    if short:
        which = (
            ""
            if len(secrets) == 1
            else f" (each one of the comma list; not number {', '.join(map(str, short))})"
        )
        raise ValueError(
            f"AZAMPAY_CALLBACK_SECRET must be at least {MIN_CALLBACK_SECRET_LENGTH} characters"
            f"{which}: generate one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    return secrets


def parse_networks(values) -> list[Network]:
    """CIDRs (or single addresses) as networks; ValueError naming the first invalid one."""
    networks = []
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text))
        except ValueError as exc:
            raise ValueError(
                f"AZAMPAY_CALLBACK_ALLOWED_NETWORKS holds {text!r}, which is not a valid "
                f"network in CIDR notation ({exc})."
            ) from None
    return networks


def azampay_callback_secrets() -> list[str]:
    """Every accepted secret; one shorter than the minimum never counts."""
    return [
        secret
        for secret in split_secrets(settings.AZAMPAY_CALLBACK_SECRET)
        if len(secret) >= MIN_CALLBACK_SECRET_LENGTH
    ]


def azampay_registered_secret() -> str:
    """The secret registered with AzamPay (the first of the list), or "" when none is set."""
    secrets = azampay_callback_secrets()
    return secrets[0] if secrets else ""


def azampay_callback_url() -> str:
    """The callback URL to register with AzamPay (and where the simulator delivers)."""
    return f"{settings.SITE_URL}/payments/azampay/callback/{azampay_registered_secret()}/"


def azampay_secret_accepted(given: str) -> bool:
    """Constant-time comparison against every accepted secret (all are compared, always)."""
    given_bytes = (given or "").encode()
    accepted = False
    for secret in azampay_callback_secrets():
        accepted |= hmac.compare_digest(given_bytes, secret.encode())
    return accepted


def plain_ip(ip: str) -> str:
    """`ip` as people read it: an IPv4-mapped IPv6 address (::ffff:1.2.3.4) as its IPv4."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ip or ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def azampay_address_allowed(ip: str) -> bool:
    """May a callback come from `ip`? Any address when no networks are configured.

    An IPv4-mapped IPv6 address (::ffff:1.2.3.4) counts as its IPv4 address.
    """
    networks = [
        network if isinstance(network, Network) else ipaddress.ip_network(str(network).strip())
        for network in settings.AZAMPAY_CALLBACK_ALLOWED_NETWORKS
    ]
    if not networks:
        return True
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(candidate in network for candidate in candidates for network in networks)
