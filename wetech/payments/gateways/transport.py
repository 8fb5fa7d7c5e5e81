"""One HTTP session per gateway client: timeouts, request id, failure classification, logging.

Every outbound call goes through `HttpTransport.send`, which runs it inside the gateway's bulkhead
(a bounded number of calls in flight per node), under the retry policy and circuit breaker, and
turns what `requests` raises or the gateway answers into either a response (2xx-4xx: the client
decides what it means) or a `TransientFailure` the policy understands.
Nothing here logs a body, a header value, a token or a phone number.
"""

import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone
from urllib3.exceptions import ConnectTimeoutError

from wetech.payments.gateways.base import GatewayMisconfigured
from wetech.payments.gateways.bulkhead import Bulkhead
from wetech.payments.gateways.retry import (
    AMBIGUOUS,
    REFUSED,
    SERVER_ERROR,
    UNSENT,
    CircuitBreaker,
    RetryPolicy,
    TransientFailure,
)
from wetech.request_context import get_request_id

# Below this, a read timeout only turns a slow answer into an ambiguous failure.
MIN_READ_TIMEOUT = 1.0


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - timezone.now()).total_seconds(), 0.0)


def _connection_never_opened(exc: BaseException) -> bool:
    """True when urllib3 failed before a connection existed (refused, DNS, connect timeout)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # NewConnectionError and NameResolutionError are ConnectTimeoutError subclasses.
        if isinstance(current, ConnectTimeoutError):
            return True
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False


class HttpTransport:
    def __init__(
        self,
        *,
        gateway: str,
        connect_timeout: float,
        read_timeout: float,
        policy: RetryPolicy,
        breaker: CircuitBreaker | None,
        session: requests.Session | None = None,
        answered_by_gateway: Callable[[requests.Response], bool] | None = None,
        bulkhead: Bulkhead | None = None,
    ):
        self.gateway = gateway
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.policy = policy
        self.breaker = breaker
        self.session = session or requests.Session()
        # A 500 that carries the gateway's own error document is an answer, not an outage.
        self.answered_by_gateway = answered_by_gateway or (lambda response: False)
        # Every client shares its gateway's per-node bound (GATEWAY_MAX_CONCURRENT_CALLS).
        self.bulkhead = bulkhead if bulkhead is not None else Bulkhead(gateway)
        self.logger = logging.getLogger(f"wetech.payments.gateways.{gateway}")

    def send(
        self,
        method: str,
        url: str,
        *,
        action: str,
        idempotent: bool,
        headers: dict | None = None,
        json=None,
        params: dict | None = None,
    ) -> requests.Response:
        all_headers = {
            "Accept": "application/json",
            "User-Agent": f"WeTech/{settings.APP_VERSION}",
            **(headers or {}),
        }
        request_id = get_request_id()
        if request_id:
            all_headers["X-Request-ID"] = request_id

        def operation(seconds_left: float) -> requests.Response:
            read_timeout = min(self.read_timeout, max(seconds_left, MIN_READ_TIMEOUT))
            return self._send_once(
                method,
                url,
                action=action,
                headers=all_headers,
                json=json,
                params=params,
                timeout=(self.connect_timeout, read_timeout),
            )

        # The slot is held across retries and their waits: a thread sleeping between attempts is
        # as unavailable to other pages as one waiting on the socket. A call refused here never
        # reached the gateway, so it says nothing to the breaker.
        with self.bulkhead.slot():
            return self.policy.call(
                operation,
                gateway=self.gateway,
                action=action,
                idempotent=idempotent,
                breaker=self.breaker,
            )

    def _send_once(self, method, url, *, action, headers, json, params, timeout):
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                json=json,
                params=params,
                timeout=timeout,
                allow_redirects=False,
            )
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise GatewayMisconfigured(
                f"{self.gateway} URL is not valid: {urlsplit(url).netloc or url}",
                gateway=self.gateway,
            ) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise TransientFailure("connect timeout", kind=UNSENT) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise TransientFailure("read timeout", kind=AMBIGUOUS) from exc
        except requests.exceptions.ConnectionError as exc:
            if _connection_never_opened(exc):
                raise TransientFailure("connection refused", kind=UNSENT) from exc
            raise TransientFailure("connection dropped", kind=AMBIGUOUS) from exc
        except requests.exceptions.RequestException as exc:
            raise TransientFailure(type(exc).__name__, kind=AMBIGUOUS) from exc

        elapsed_ms = round((time.monotonic() - started) * 1000)
        self.logger.info(
            "%s %s %s -> %s in %d ms",
            self.gateway,
            action,
            method,
            response.status_code,
            elapsed_ms,
            extra={
                "gateway": self.gateway,
                "action": action,
                "http_status": response.status_code,
                "duration_ms": elapsed_ms,
            },
        )
        status = response.status_code
        if status in (429, 503):
            raise TransientFailure(
                f"HTTP {status}",
                kind=REFUSED,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                throttled=status == 429,
            )
        if status in (502, 504):
            raise TransientFailure(f"HTTP {status}", kind=AMBIGUOUS)
        if status >= 500 and not self.answered_by_gateway(response):
            raise TransientFailure(f"HTTP {status}", kind=SERVER_ERROR)
        return response
