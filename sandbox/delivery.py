"""Notifications the simulators send in the background, as the real gateways do.

Each runs on a daemon thread with explicit timeouts; failures are logged and swallowed, since a
merchant that is down must not break the simulated gateway.
"""

import logging
import threading
import time
from collections.abc import Callable

import requests

logger = logging.getLogger("sandbox")

TIMEOUT = (3.05, 10.0)


def in_background(job: Callable[[], None], *, name: str) -> threading.Thread:
    def run():
        try:
            job()
        except Exception:
            logger.warning("simulator %s failed", name, exc_info=True)

    thread = threading.Thread(target=run, name=f"simulator-{name}", daemon=True)
    thread.start()
    return thread


def send(what: str, method: str, url: str, *, delay: float = 0.0, **kwargs) -> None:
    """Send one notification now (after `delay` seconds); log the outcome, never raise."""
    if delay:
        time.sleep(delay)
    try:
        response = requests.request(method, url, timeout=TIMEOUT, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        logger.warning("simulator %s not delivered: %s", what, type(exc).__name__)
        return
    logger.info("simulator %s delivered: HTTP %s", what, response.status_code)
