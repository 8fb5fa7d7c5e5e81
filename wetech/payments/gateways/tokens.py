"""Access tokens cached in the Django cache by the expiry the gateway states.

Keyed by gateway, base URL and account, so a sandbox token is never sent to live (or the other
way round). Refreshed a minute before the stated expiry; clients drop a token once on an auth
error. A token without a usable expiry is used once and not cached.
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from django.core.cache import cache as default_cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

logger = logging.getLogger("wetech.payments.gateways.tokens")

REFRESH_EARLY_SECONDS = 60


def parse_expiry(value) -> datetime | None:
    """An ISO-8601 expiry ("2024-03-18T08:23:21.1688946Z"); naive values are UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class TokenCache:
    def __init__(self, *, gateway: str, identity: str, cache=None):
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        self.gateway = gateway
        self.key = f"gateway-token:{gateway}:{digest}"
        self.cache = cache or default_cache

    def get(self, fetch: Callable[[], tuple[str, datetime | None]]) -> str:
        try:
            entry = self.cache.get(self.key)
        except Exception:
            logger.warning("%s token cache unavailable", self.gateway, exc_info=True)
            entry = None
        # The refresh time is checked here as well as by the cache TTL: our clock, not the
        # cache server's, decides when a token is too old.
        if isinstance(entry, dict) and entry.get("refresh_at", 0) > timezone.now().timestamp():
            return entry["token"]
        token, expires_at = fetch()
        ttl = (
            (expires_at - timezone.now()).total_seconds() - REFRESH_EARLY_SECONDS
            if expires_at
            else 0
        )
        if ttl > 0:
            try:
                self.cache.set(
                    self.key,
                    {"token": token, "refresh_at": timezone.now().timestamp() + ttl},
                    timeout=ttl,
                )
            except Exception:
                logger.warning("%s token cache unavailable", self.gateway, exc_info=True)
        logger.info(
            "%s token fetched, cached for %d s",
            self.gateway,
            max(ttl, 0),
            extra={"gateway": self.gateway},
        )
        return token

    def forget(self) -> None:
        try:
            self.cache.delete(self.key)
        except Exception:
            logger.warning("%s token cache unavailable", self.gateway, exc_info=True)
