"""Who may deliver an AzamPay callback: the secret path segment.

AzamPay signs nothing we can rely on (gateways.md B7), so the callback URL's secret is what
guards it. `AZAMPAY_CALLBACK_SECRET` may hold several comma-separated secrets so it can be
rotated without losing callbacks: the FIRST is the one registered with AzamPay (every URL we
build uses it), and every one of them is accepted.

The parse function runs when the settings load (so a bad value stops start-up); the others read
`django.conf.settings` on every call, so a test's settings override takes effect.
"""

import hmac

from django.conf import settings

MIN_CALLBACK_SECRET_LENGTH = 32


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
