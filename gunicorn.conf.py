"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wetechnologies.wsgi`.

The master refuses to start when Django's system checks report an error, as `runserver` does
(for instance the gateway simulators switched on with DEBUG off).

Environment overrides: WEB_CONCURRENCY (workers), GUNICORN_THREADS (threads per worker),
GUNICORN_BIND, GUNICORN_TIMEOUT, FORWARDED_ALLOW_IPS (the proxy's address when it is not on this
host).

Capacity and the gateway bulkhead: the node answers WEB_CONCURRENCY x GUNICORN_THREADS requests at
once (5 x 4 = 20 on two cores). A hanging gateway holds a thread per call for up to the retry
deadline, so the site bounds them (wetech/payments/gateways/bulkhead.py): at most
GATEWAY_MAX_CONCURRENT_CALLS (4) calls per gateway on the whole node, and never a worker's last
thread. Keep 2 x GATEWAY_MAX_CONCURRENT_CALLS (both gateways hanging) well below the total, and
GUNICORN_THREADS at least 2, so the pages always have threads. Each thread keeps its own database
connection: WEB_CONCURRENCY x GUNICORN_THREADS must fit PostgreSQL's max_connections.
"""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threaded workers: with sync workers one request that waits on a gateway holds a whole process,
# and a few customers paying while a gateway hangs held every worker. Threads make the bulkhead
# (a bounded number of gateway calls) leave the rest of each worker free for the pages.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A gthread worker is restarted when its main loop stops for this long; a request thread is not
# timed. Gateway calls are capped well below it (retry deadline), so a stuck request is a bug.
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


def post_fork(server, worker):
    """Tell the app how many threads this worker really runs (from GUNICORN_THREADS or
    `--threads`), so the bulkhead keeps one of them for the pages."""
    os.environ["GUNICORN_THREADS"] = str(server.cfg.threads)


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
