"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wetechnologies.wsgi`.

The master refuses to start when Django's system checks report an error, as `runserver` does
(for instance the gateway simulators switched on with DEBUG off).

Environment overrides: WEB_CONCURRENCY (workers), GUNICORN_BIND, GUNICORN_TIMEOUT,
FORWARDED_ALLOW_IPS (the proxy's address when it is not on this host).
"""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

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


def on_starting(server):
    """Run `manage.py check` before any worker starts; exit 1 on an error.

    In a child process, so the master never imports Django (the workers do, after the fork).
    """
    manage = Path(__file__).resolve().parent / "manage.py"
    result = subprocess.run(  # noqa: S603  (our own manage.py with this interpreter)
        [sys.executable, str(manage), "check", "--fail-level", "ERROR"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        server.log.error(
            "Django's system checks failed, so gunicorn does not start:\n%s",
            (result.stderr or result.stdout).strip(),
        )
        raise SystemExit(1)
