"""Answer the health probes before the rest of the stack can get in their way.

Load balancers probe over plain HTTP, often with an IP address as Host and without cookies, every
few seconds. Placed right after PerformanceMiddleware (so probes still get X-Request-ID), this
answers `/health/`, `/health/ready/` and `/health/live/` itself, which keeps them clear of the SSL
redirect, of `ALLOWED_HOSTS` (nothing here calls `request.get_host()`), of sessions (no cookie is
ever set), CSRF and rate limits. Sentry tracing skips `/health/` on its own (`wetech/sentry.py`).
"""

from wetech.views import health

PROBES = {
    "/health/": health.report,
    "/health/ready/": health.ready,
    "/health/live/": health.live,
}
# The same without the trailing slash, so a probe never gets APPEND_SLASH's redirect instead.
PROBES.update({path.rstrip("/"): view for path, view in list(PROBES.items())})


class HealthProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PROBES.get(request.path_info)
        if view is None:
            return self.get_response(request)
        return view(request)
