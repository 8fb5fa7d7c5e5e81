"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wetechnologies.wsgi`.

Environment overrides: WEB_CONCURRENCY (workers), GUNICORN_BIND, GUNICORN_TIMEOUT,
FORWARDED_ALLOW_IPS (the proxy's address when it is not on this host).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: the site's work is short database and gateway calls with explicit timeouts.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# A gateway call is capped well below this (retry deadline), so a worker stuck past it is a bug.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak can never take the site down.
max_requests = 2000
max_requests_jitter = 200
# Only the reverse proxy may set X-Forwarded-* (see TRUSTED_PROXY_COUNT in the README).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
# %({x-request-id}o)s is the response's X-Request-ID, the id every app log line carries too.
# The query string is left out: it can hold gateway references and phone numbers.
# The AzamPay callback's secret path segment is masked in the access log.
logger_class = "wetech.gunicorn_logger.RedactingLogger"
access_log_format = (
    '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(f)s" "%(a)s" rid=%({x-request-id}o)s'
)
