"""Settings for the WeTech site.

Every setting is read here, once, from the environment through django-environ (a `.env` file is
read when present; real environment variables win). `.env.example` lists every variable and
`../shared/docs/contract.md` says what each means. App code reads `django.conf.settings` only.
"""

import os
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from sandbox.credentials import gateway_settings as simulator_gateway_settings
from wetech.broker import broker_kind, huey_settings
from wetech.callback_auth import parse_callback_secrets, parse_networks
from wetech.log import build_logging_config
from wetech.tin import tin_format, tin_normalize, vrn_normalize

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -----------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set it in the environment or in .env "
            "(only DEBUG=true may run without one)."
        )
    SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-true"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
APP_VERSION = env.str("APP_VERSION", default="") or __import__("wetech").__version__

INSTALLED_APPS = [
    # Before the admin: the catalogue's fields in English and Kiswahili (wetech/translation.py).
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_ratelimit",
    "axes",
    "huey.contrib.djhuey",
    "wetech",
]

MIDDLEWARE = [
    # First, so it times everything, and every response (even a probe's) carries X-Request-ID.
    "wetech.middleware.performance.PerformanceMiddleware",
    # Probes are answered here: before the SSL redirect, the host check, sessions and rate limits.
    "wetech.middleware.health_probe.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "wetech.middleware.security_headers.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: from the /sw/ prefix (English has none); then ours: GET / for a browser that
    # prefers Kiswahili goes to /sw/, and a JSON client is answered in its Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "wetech.middleware.language.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "wetechnologies.urls"
WSGI_APPLICATION = "wetechnologies.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wetech.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------

DATABASES = {"default": env.db_url("DATABASE_URL", default="sqlite:///db.sqlite3")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] and _db["NAME"] != ":memory:" and not Path(_db["NAME"]).is_absolute():
        _db["NAME"] = str(BASE_DIR / _db["NAME"])
    _db["OPTIONS"] = {
        # WAL lets readers carry on while one writer writes; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on the busy timeout instead of failing with "locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
        **_db.get("OPTIONS", {}),
    }
    # Tests get a file of their own, not Django's shared-cache in-memory database: that one
    # answers "table is locked" at once to a second writer, so live-server tests where a
    # gateway's notification and the customer's browser arrive together could never pass. One
    # file per test process, so parallel runs in one checkout never meet.
    _db["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"wetech-test-{os.getpid()}.sqlite3"),
        **_db.get("TEST", {}),
    }
elif _db["ENGINE"].startswith("django.db.backends.postgresql"):
    _db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
    _db["OPTIONS"] = {
        "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=5),
        **_db.get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, gateway tokens, circuit breakers) ----------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "wetech.cache.PooledRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="wetech"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "wetech",
        }
    }

# django-ratelimit warns about any backend it does not list; Django's own Redis backend has the
# atomic increment it needs. Local memory is per process: fine for one dev server, and the README
# says why production sets REDIS_URL.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
if not REDIS_URL:
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

# --- Auth, i18n, static ---------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# /admin/login/ (django-axes): a username is locked from one client address after
# AXES_FAILURE_LIMIT failures, for an hour; the same username from elsewhere still signs in, so
# nobody can lock staff out remotely. The address follows the TRUSTED_PROXY_COUNT rule. Failures
# are stored in the database (they hold when the cache is down); a successful sign-in clears them.
# Unlock early: python manage.py axes_reset_username <username>
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(hours=1)
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "wetech.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "wetech.views.errors.login_locked_out"
# Not verbose: no start-up line on every command (cron mails stderr); its log lines mask the
# username and address either way.
AXES_VERBOSE = False

# English at today's URLs, Kiswahili under /sw/ (wetechnologies/urls.py). The catalogue is
# locale/sw/LC_MESSAGES/django.po with its compiled .mo committed, so running the site needs no
# gettext tools (README, "Languages").
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("sw", "Kiswahili")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The service catalogue's words in both languages (django-modeltranslation: name_en, name_sw, ...);
# a Kiswahili field left empty shows the English.
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = ("en", "sw")
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
# The visitor's choice, set by the header's switcher (Django's set_language), kept for a year.
# No script reads it.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Africa/Dar_es_Salaam"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG and env.bool("STATIC_MANIFEST", default=True)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_MAX_AGE = 31536000 if not DEBUG else 0
# Serve straight from static/ (no collectstatic) in development and tests.
WHITENOISE_AUTOREFRESH = DEBUG or env.bool("WHITENOISE_AUTOREFRESH", default=False)
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH

# Bodies larger than this are refused with a 400 before any view reads them: the biggest honest
# body is a lead with a 5,000-character message.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
# No page takes a file: the first file part of a multipart body is a 400 (TooManyFilesSent) before
# any upload handler sees it, so nothing is spooled to disk, even ahead of the CSRF check.
DATA_UPLOAD_MAX_NUMBER_FILES = 0

# --- Security -------------------------------------------------------------------------------------

TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT:
    # Only a proxy we were told about may say the original request was HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "wetech.views.errors.csrf_failure"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

# --- Email ----------------------------------------------------------------------------------------

_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="WeTech <no-reply@wetech.co.tz>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
STAFF_EMAILS = env.list("STAFF_EMAILS", default=[])
EMAIL_TIMEOUT = 10

# The outbox (wetech/emails.py): every email is a row sent by the worker, retried with backoff
# (exponential, with jitter, capped) until it is sent or has failed this many times; a worker
# that dies holding one loses it to the next worker once its lease expires (keep the lease well
# above EMAIL_TIMEOUT: a send still under way past it may go out twice).
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=12)
EMAIL_LEASE_SECONDS = env.float("EMAIL_LEASE_SECONDS", default=300.0)
EMAIL_RETRY_BASE_SECONDS = env.float("EMAIL_RETRY_BASE_SECONDS", default=60.0)
EMAIL_RETRY_MAX_SECONDS = env.float("EMAIL_RETRY_MAX_SECONDS", default=8 * 3600.0)

# --- Background work (Huey) -----------------------------------------------------------------------

# The worker's queue: Redis when REDIS_URL is set (one queue shared by the workers of every
# machine), else an embedded SQLite file on this machine, for `make run` and the SQLite tests
# (`check --deploy` warns about it with DEBUG off: each machine would have a queue of its own).
TASK_BROKER_URL = (
    env.str("TASK_BROKER_URL", default="")
    or REDIS_URL
    or f"sqlite:///{BASE_DIR / 'var' / 'huey.sqlite3'}"
)
HUEY = huey_settings(
    TASK_BROKER_URL,
    base_dir=BASE_DIR,
    # `manage.py worker`'s defaults (its options override them): threads (the work waits on SMTP
    # and the database), the schedule on, SIGTERM lets the tasks under way finish (up to 30 s).
    consumer={
        "workers": env.int("WORKER_THREADS", default=2),
        "worker_type": "thread",
        "periodic": True,
        "graceful_signal": "TERM",
        "shutdown_timeout": 30.0,
    },
)
# /health/'s worker check: the newest heartbeat (every worker writes one a minute) older than this
# warns, then fails ("no worker seen").
WORKER_HEARTBEAT_WARN_SECONDS = env.int("WORKER_HEARTBEAT_WARN_SECONDS", default=120)
WORKER_HEARTBEAT_FAIL_SECONDS = env.int("WORKER_HEARTBEAT_FAIL_SECONDS", default=600)

# The schedule the worker runs (wetech/tasks.py): crontab strings, "minute hour day month weekday"
# (weekday 0 = Sunday), read in TIME_ZONE (Africa/Dar_es_Salaam, UTC+3, no DST). Huey itself runs
# with utc=True (its clock and every ETA are UTC); wetech.ops.schedule turns the scheduler's UTC
# minute into TIME_ZONE before matching, so "15 2 * * *" is 02:15 in Dar es Salaam (23:15 UTC).
# Each job runs once per period however many workers fire it (a row per period in the database).
SCHEDULE_RECONCILE = env.str("SCHEDULE_RECONCILE", default="*/10 * * * *")
SCHEDULE_BACKUP = env.str("SCHEDULE_BACKUP", default="15 2 * * *")
SCHEDULE_INTEGRITY = env.str("SCHEDULE_INTEGRITY", default="30 6 * * *")
SCHEDULE_PRUNE_NOTIFICATIONS = env.str("SCHEDULE_PRUNE_NOTIFICATIONS", default="45 3 * * 0")
SCHEDULE_PRUNE_OUTBOX = env.str("SCHEDULE_PRUNE_OUTBOX", default="0 4 * * 0")
# Sent emails older than this are deleted by the weekly prune (pending and failed ones are kept).
OUTBOX_KEEP_SENT_DAYS = env.int("OUTBOX_KEEP_SENT_DAYS", default=30)
# Whether this machine's worker runs the nightly backup (into its BACKUP_DIR). True on exactly one
# machine; by default true with the embedded queue (one machine), false with Redis.
WORKER_RUNS_BACKUPS = (
    env.bool("WORKER_RUNS_BACKUPS")
    if env.str("WORKER_RUNS_BACKUPS", default="")
    else broker_kind(TASK_BROKER_URL) == "sqlite"
)

# --- Rate limits ----------------------------------------------------------------------------------

RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_VIEW = "wetech.views.errors.rate_limited"
LEADS_RATE_LIMIT = env.str("LEADS_RATE_LIMIT", default="5/m")
LEADS_DAILY_LIMIT = env.str("LEADS_DAILY_LIMIT", default="50/d")
PAY_RATE_LIMIT = env.str("PAY_RATE_LIMIT", default="10/m")
CALLBACK_RATE_LIMIT = env.str("CALLBACK_RATE_LIMIT", default="600/m")

# --- The company on pages, emails and invoices ----------------------------------------------------

# A Tanzanian tax invoice names the seller with its TIN and VRN: a malformed one stops start-up
# rather than be printed on every invoice. Either may be left empty (e.g. no VAT registration).
COMPANY_NAME = env.str("COMPANY_NAME", default="WeTech Ltd")
COMPANY_ADDRESS = env.str("COMPANY_ADDRESS", default="Mikocheni, Dar es Salaam, Tanzania")
COMPANY_EMAIL = env.str("COMPANY_EMAIL", default="hello@wetech.co.tz")
COMPANY_PHONE = env.str("COMPANY_PHONE", default="+255 22 200 0000")


def _tax_number(name: str, default: str, normalize) -> str:
    raw = env.str(name, default=default).strip()
    if not raw:
        return ""
    try:
        return normalize(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not valid: {exc}.") from exc


COMPANY_TIN = _tax_number("COMPANY_TIN", "123-456-789", lambda raw: tin_format(tin_normalize(raw)))
COMPANY_VRN = _tax_number("COMPANY_VRN", "40-012345-A", vrn_normalize)

# --- Invoices -------------------------------------------------------------------------------------

INVOICE_TAX_RATE = env.get_value("INVOICE_TAX_RATE", cast=Decimal, default=Decimal("0.18"))
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=14)
# A submit faster than this after the form was rendered is a bot.
LEAD_FORM_MIN_SECONDS = env.float("LEAD_FORM_MIN_SECONDS", default=3.0)
LEAD_FORM_MAX_AGE_SECONDS = env.int("LEAD_FORM_MAX_AGE_SECONDS", default=24 * 3600)

# --- Payment gateways -----------------------------------------------------------------------------

GATEWAY_SIMULATOR = env.bool("GATEWAY_SIMULATOR", default=False)
if GATEWAY_SIMULATOR:
    # The simulators' own app (its templates, its routes under /sandbox/): never installed
    # otherwise, so production has no trace of it.
    INSTALLED_APPS.append("sandbox")

PESAPAL_BASE_URL = env.str(
    "PESAPAL_BASE_URL", default="https://cybqa.pesapal.com/pesapalv3"
).rstrip("/")
PESAPAL_CONSUMER_KEY = env.str("PESAPAL_CONSUMER_KEY", default="")
PESAPAL_CONSUMER_SECRET = env.str("PESAPAL_CONSUMER_SECRET", default="")
PESAPAL_IPN_ID = env.str("PESAPAL_IPN_ID", default="")

AZAMPAY_AUTH_URL = env.str(
    "AZAMPAY_AUTH_URL", default="https://authenticator-sandbox.azampay.co.tz"
).rstrip("/")
AZAMPAY_CHECKOUT_URL = env.str(
    "AZAMPAY_CHECKOUT_URL", default="https://sandbox.azampay.co.tz"
).rstrip("/")
AZAMPAY_APP_NAME = env.str("AZAMPAY_APP_NAME", default="")
AZAMPAY_CLIENT_ID = env.str("AZAMPAY_CLIENT_ID", default="")
AZAMPAY_CLIENT_SECRET = env.str("AZAMPAY_CLIENT_SECRET", default="")
AZAMPAY_API_KEY = env.str("AZAMPAY_API_KEY", default="")
AZAMPAY_CALLBACK_SECRET = env.str("AZAMPAY_CALLBACK_SECRET", default="")
if GATEWAY_SIMULATOR:
    # Every gateway URL and credential is then the simulators' (sandbox/credentials.py, their one
    # place): keys meant for a real sandbox would only be refused by the local stand-ins.
    globals().update(simulator_gateway_settings(SITE_URL))
# The callback's guards (wetech/callback_auth.py): every secret of the comma list is at least 32
# characters (the first is the one registered with AzamPay); the optional CIDR allow-list.
try:
    parse_callback_secrets(AZAMPAY_CALLBACK_SECRET)
    AZAMPAY_CALLBACK_ALLOWED_NETWORKS = parse_networks(
        env.list("AZAMPAY_CALLBACK_ALLOWED_NETWORKS", default=[])
    )
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# The collection-status endpoint is undocumented for most accounts (gateways.md B8); only query
# it where it has been shown to work for this merchant. Off by default everywhere, the simulator
# included, so `make run` and the tests take the callback-only path production takes.
AZAMPAY_STATUS_QUERY = env.bool("AZAMPAY_STATUS_QUERY", default=False)
# AzamPay prompts: at most N per invoice / per phone number in M minutes (0 = no limit). Counted
# from the payment attempts in the database, so they hold when the cache is down.
AZAMPAY_PUSHES_PER_INVOICE = env.int("AZAMPAY_PUSHES_PER_INVOICE", default=3)
AZAMPAY_PUSHES_PER_INVOICE_MINUTES = env.int("AZAMPAY_PUSHES_PER_INVOICE_MINUTES", default=15)
AZAMPAY_PUSHES_PER_PHONE = env.int("AZAMPAY_PUSHES_PER_PHONE", default=5)
AZAMPAY_PUSHES_PER_PHONE_MINUTES = env.int("AZAMPAY_PUSHES_PER_PHONE_MINUTES", default=60)
# An open payment attempt older than this is expired by reconcile_payments once the gateway
# still calls it pending; a success that arrives later is still credited.
PAYMENT_ATTEMPT_TTL_MINUTES = env.int("PAYMENT_ATTEMPT_TTL_MINUTES", default=60)
# A refund asked of a gateway and not confirmed after this many days is reported to staff once
# by reconcile_payments (Pesapal's refunds wait for the merchant's and its finance's approval).
REFUND_ALERT_AFTER_DAYS = env.int("REFUND_ALERT_AFTER_DAYS", default=7)

# Outbound calls: explicit timeouts; retries and breaker sized for a customer waiting on a page.
GATEWAY_CONNECT_TIMEOUT = env.float("GATEWAY_CONNECT_TIMEOUT", default=3.05)
GATEWAY_READ_TIMEOUT = env.float("GATEWAY_READ_TIMEOUT", default=10.0)
GATEWAY_RETRY_ATTEMPTS = env.int("GATEWAY_RETRY_ATTEMPTS", default=3)
GATEWAY_RETRY_BASE_WAIT = env.float("GATEWAY_RETRY_BASE_WAIT", default=0.25)
GATEWAY_RETRY_MAX_WAIT = env.float("GATEWAY_RETRY_MAX_WAIT", default=2.0)
GATEWAY_RETRY_DEADLINE = env.float("GATEWAY_RETRY_DEADLINE", default=8.0)
GATEWAY_BREAKER_THRESHOLD = env.int("GATEWAY_BREAKER_THRESHOLD", default=5)
GATEWAY_BREAKER_RESET_SECONDS = env.float("GATEWAY_BREAKER_RESET_SECONDS", default=30.0)
# Repeated IPNs/callbacks about one payment within this many seconds of the gateway's answer are
# answered from what we know, without asking again (0 turns the window off; one query per
# payment is still in flight at a time). The reconciler and staff's re-check always ask.
GATEWAY_STATUS_COALESCE_SECONDS = env.float("GATEWAY_STATUS_COALESCE_SECONDS", default=15.0)
# Bulkhead: at most this many calls to one gateway at once per node (all workers together); more
# are refused at once with the 503 page. Keep 2 x this below WEB_CONCURRENCY x GUNICORN_THREADS
# so a hanging gateway always leaves threads for the pages. 0 turns the bound off.
GATEWAY_MAX_CONCURRENT_CALLS = env.int("GATEWAY_MAX_CONCURRENT_CALLS", default=4)
# gunicorn's threads per worker (gunicorn.conf.py reads it too): gateway calls never take a
# worker's last thread, since gthread queues the pages it accepted behind its busy threads.
GUNICORN_THREADS = env.int("GUNICORN_THREADS", default=4)
# How long the simulated phone takes to approve an AzamPay push (simulator only).
SIMULATOR_AZAMPAY_DELAY_SECONDS = env.float("SIMULATOR_AZAMPAY_DELAY_SECONDS", default=2.0)

# Content Security Policy: everything from our own origin; forms may also post (and be
# redirected) to the payment gateways' hosted pages.
CSP_FORM_ACTION_HOSTS = sorted(
    {
        f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
        for url in (PESAPAL_BASE_URL, AZAMPAY_CHECKOUT_URL, "https://pay.pesapal.com")
        if urlsplit(url).netloc and not url.startswith(SITE_URL)
    }
)

# --- Operations -----------------------------------------------------------------------------------

LOG_DIR = Path(env.str("LOG_DIR", default=str(BASE_DIR / "logs")))
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="text").lower()
LOGGING = build_logging_config(log_dir=LOG_DIR, level=LOG_LEVEL, fmt=LOG_FORMAT)

BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(BASE_DIR / "backups")))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=30)
BACKUP_MAX_AGE_HOURS = env.float("BACKUP_MAX_AGE_HOURS", default=26)
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=1.5)
SLOW_REQUEST_WARNING_MS = env.int("SLOW_REQUEST_WARNING_MS", default=1000)
SLOW_REQUEST_ERROR_MS = env.int("SLOW_REQUEST_ERROR_MS", default=5000)

# --- Sentry ---------------------------------------------------------------------------------------

SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from wetech.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default=APP_VERSION),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
