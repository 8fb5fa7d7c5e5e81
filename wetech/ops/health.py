"""The checks behind the health probes and `manage.py health`.

Each check runs in a small shared thread pool under a deadline (`HEALTH_CHECK_TIMEOUT`), so a
database that hangs makes the probe answer "fail" in time instead of hanging it. A check that is
still running from an earlier probe is not started again: the new probe waits on that run under
its own deadline, so a hang holds one thread rather than piling threads up behind it. Database
checks open their own short-timeout connection and close it in the thread that opened it.

The report follows the IETF "Health Check Response Format for HTTP APIs" draft: a `status` of
pass/warn/fail and `checks` keyed `component:measurement`. `output` (exception text, paths) is only
rendered for privileged callers; failures are logged with it either way.
"""

import dataclasses
import logging
import math
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import load_backend
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from wetech.emails import outgoing_email_oldest_unsent, outgoing_emails_stuck_count
from wetech.ops.backups import backup_files
from wetech.ops.schedule import backup_last_failed_after, backup_newest_recorded
from wetech.ops.worker import worker_last_seen

logger = logging.getLogger("wetech.health")

PASS, WARN, FAIL = "pass", "warn", "fail"
_SEVERITY = {PASS: 0, WARN: 1, FAIL: 2}
# libpq refuses connect timeouts under 2 s; the deadline still answers the probe on time.
_PG_MIN_CONNECT_TIMEOUT = 2
# Free space below these shares of the disk warns, then fails (a full disk stops SQLite and logs).
DISK_WARN_FREE = 0.10
DISK_FAIL_FREE = 0.02
# A round trip slower than this share of the deadline is worth a warning before it becomes a fail.
SLOW_SHARE = 0.5

_pool = ThreadPoolExecutor(max_workers=12, thread_name_prefix="health")
_in_flight: dict[str, Future] = {}
_in_flight_lock = threading.Lock()
# Once every migration is applied it stays so for the life of this process (a deploy restarts it).
_migrations_applied = False
_last_status: dict[str, str] = {}


@dataclass(frozen=True)
class CheckResult:
    status: str
    observed_value: object = None
    observed_unit: str = ""
    output: str = ""
    component_id: str = ""
    time: str = ""

    def as_json(self, *, include_output: bool) -> dict:
        body = {
            "status": self.status,
            "observedValue": self.observed_value,
            "observedUnit": self.observed_unit,
            "time": self.time,
        }
        if self.component_id:
            body["componentId"] = self.component_id
        # The draft: output explains a warn or fail and is omitted for pass.
        if include_output and self.output and self.status != PASS:
            body["output"] = self.output
        return body


@dataclass(frozen=True)
class Check:
    """`run` returns {"component:measurement": [CheckResult, ...]}; `key` names it on failure."""

    key: str
    run: Callable[[], dict[str, list[CheckResult]]]


@dataclass(frozen=True)
class HealthReport:
    status: str
    checks: dict[str, list[CheckResult]]

    def as_json(self, *, include_output: bool) -> dict:
        body = {
            "status": self.status,
            "description": "WeTech site",
            "checks": {
                key: [result.as_json(include_output=include_output) for result in results]
                for key, results in self.checks.items()
            },
        }
        if include_output:
            body["releaseId"] = settings.APP_VERSION
        return body

    @property
    def failing(self) -> list[str]:
        return [key for key, results in self.checks.items() if _worst(results) == FAIL]


# What readiness reports as a warning however badly it fails: without the cache the site still
# serves every page (rate limits let requests through, gateway tokens are fetched afresh, the
# breakers read as closed), so a Redis outage must not make the load balancer drop every node.
# The full report still says fail.
READY_WARN_ONLY = frozenset({"cache:responseTime"})


def health_report_build(*, scope: str = "full") -> HealthReport:
    """Run the checks of `scope` ("ready" or "full") within the deadline and combine them."""
    checks = readiness_checks() if scope == "ready" else full_checks()
    results = checks_run(checks=checks, timeout=settings.HEALTH_CHECK_TIMEOUT)
    if scope == "ready":
        results = {
            key: [_at_most_warn(result) for result in group] if key in READY_WARN_ONLY else group
            for key, group in results.items()
        }
    report = HealthReport(
        status=_worst([result for group in results.values() for result in group]),
        checks=results,
    )
    _log_problems(report)
    return report


def checks_run(*, checks: list[Check], timeout: float) -> dict[str, list[CheckResult]]:
    deadline = time.monotonic() + timeout
    futures = [_submit_or_join(check.key, _guarded(check)) for check in checks]
    wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    results: dict[str, list[CheckResult]] = {}
    for check, future in zip(checks, futures, strict=True):
        if future.done():
            results.update(future.result())
        else:
            results[check.key] = [_failed(f"no answer within {timeout:g} s")]
    return results


def _submit_or_join(key: str, function: Callable) -> Future:
    """Start a check, or wait on the run of it already under way.

    Probes that overlap (threaded servers, several load balancers) share one run instead of
    reporting each other as failed, and a check stuck on a hung database holds one thread, not
    one per probe.
    """
    with _in_flight_lock:
        previous = _in_flight.get(key)
        if previous is not None and not previous.done():
            return previous
        future = _pool.submit(function)
        _in_flight[key] = future
        return future


def submit_once(key: str, function: Callable) -> Future | None:
    """Run `function` in the shared pool unless the previous run under `key` is still going.

    For work whose result belongs to one caller (a session lookup): nothing is shared.
    """
    with _in_flight_lock:
        previous = _in_flight.get(key)
        if previous is not None and not previous.done():
            return None
        future = _pool.submit(function)
        _in_flight[key] = future
        return future


def readiness_checks() -> list[Check]:
    """Only what this process cannot serve without: never gateways, email, disk space or the
    background worker (pages are served without it; its work waits in the queue)."""
    checks = [
        Check("database:responseTime", database_check),
        Check("migrations:pending", migrations_check),
    ]
    if settings.REDIS_URL:
        checks.insert(1, Check("cache:responseTime", cache_check))
    return checks


def full_checks() -> list[Check]:
    return [
        Check("database:responseTime", database_check),
        Check("cache:responseTime", cache_check),
        Check("migrations:pending", migrations_check),
        Check("disk:free", disk_check),
        Check("logs:writable", logs_writable_check),
        Check("backups:writable", backups_writable_check),
        Check("backups:age", backup_age_check),
        Check("gateways:circuit", gateway_circuits_check),
        Check("worker:heartbeat", worker_check),
        Check("queue:depth", queue_check),
        Check("emails:stuck", emails_stuck_check),
    ]


# --- The checks -----------------------------------------------------------------------------------


def database_check(alias: str = "default") -> dict[str, list[CheckResult]]:
    started = time.monotonic()
    with _short_lived_connection(alias) as connection, connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET statement_timeout = %s", [_timeout_ms()])
        cursor.execute("SELECT 1")
        cursor.fetchone()
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    slow = elapsed_ms > settings.HEALTH_CHECK_TIMEOUT * 1000 * SLOW_SHARE
    return {
        "database:responseTime": [
            _result(
                WARN if slow else PASS,
                elapsed_ms,
                "ms",
                output=f"{connection.vendor} round trip {elapsed_ms} ms" if slow else "",
            )
        ]
    }


def migrations_check(alias: str = "default") -> dict[str, list[CheckResult]]:
    global _migrations_applied
    if _migrations_applied:
        return {"migrations:pending": [_result(PASS, 0, "migrations")]}
    with _short_lived_connection(alias) as connection:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        _migrations_applied = True
        return {"migrations:pending": [_result(PASS, 0, "migrations")]}
    names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan[:5])
    return {
        "migrations:pending": [_result(FAIL, len(plan), "migrations", output=f"unapplied: {names}")]
    }


def cache_check() -> dict[str, list[CheckResult]]:
    cache = caches["default"]
    key = f"health:{uuid.uuid4().hex}"
    started = time.monotonic()
    cache.set(key, "ok", timeout=30)
    answer = cache.get(key)
    cache.delete(key)
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    if answer != "ok":
        return {
            "cache:responseTime": [
                _result(FAIL, elapsed_ms, "ms", output="a value written was not read back")
            ]
        }
    return {"cache:responseTime": [_result(PASS, elapsed_ms, "ms")]}


def disk_check() -> dict[str, list[CheckResult]]:
    results = []
    seen_devices = set()
    for name, directory in (("logs", settings.LOG_DIR), ("backups", settings.BACKUP_DIR)):
        directory = _nearest_existing(Path(directory))
        device = directory.stat().st_dev
        if device in seen_devices:
            continue
        seen_devices.add(device)
        usage = shutil.disk_usage(directory)
        share = usage.free / usage.total if usage.total else 0.0
        if share < DISK_FAIL_FREE:
            status = FAIL
        elif share < DISK_WARN_FREE:
            status = WARN
        else:
            status = PASS
        results.append(
            _result(
                status,
                usage.free // 2**20,
                "MiB",
                output=f"{share:.1%} free on the disk holding {directory}",
                component_id=name,
            )
        )
    return {"disk:free": results}


def logs_writable_check() -> dict[str, list[CheckResult]]:
    # Without a writable log folder errors go unrecorded: that is a failure.
    return {"logs:writable": [_writable(Path(settings.LOG_DIR), unwritable=FAIL)]}


def backups_writable_check() -> dict[str, list[CheckResult]]:
    # Serving goes on without it, but tonight's backup will not: warn.
    return {"backups:writable": [_writable(Path(settings.BACKUP_DIR), unwritable=WARN)]}


def backup_age_check() -> dict[str, list[CheckResult]]:
    """The newest backup's age. The one the backup worker recorded (in the database, so every web
    node sees it, whichever machine holds BACKUP_DIR), else the newest file in this machine's
    BACKUP_DIR (cron users). A backup run that failed since the newest good one warns at once."""
    recorded = backup_newest_recorded()
    if recorded is not None:
        created = recorded.finished_at
        described = f"newest is {Path(recorded.artifact).name} (by {recorded.host})"
    else:
        newest = next(iter(backup_files(directory=Path(settings.BACKUP_DIR))), None)
        created = newest.created if newest else None
        described = f"newest is {newest.path.name}" if newest else "no backup found"
    failed = backup_last_failed_after(created)
    if failed is not None:
        described += (
            f"; the backup of {timezone.localtime(failed.finished_at):%Y-%m-%d %H:%M} failed: "
        )
        described += failed.summary
    if created is None:
        return {"backups:age": [_result(WARN, None, "h", output=described)]}
    hours = round((datetime.now(UTC) - created).total_seconds() / 3600, 1)
    too_old = hours > settings.BACKUP_MAX_AGE_HOURS
    return {
        "backups:age": [_result(WARN if too_old or failed else PASS, hours, "h", output=described)]
    }


def gateway_circuits_check() -> dict[str, list[CheckResult]]:
    try:
        from wetech.payments.gateways.retry import breaker_states
    except ImportError:
        return {
            "gateways:circuit": [_result(WARN, None, "state", output="no circuit breakers found")]
        }
    return {
        f"{gateway}:circuit": [
            _result(
                PASS if state == "closed" else WARN,
                state,
                "state",
                output="" if state == "closed" else f"{gateway} circuit is {state}",
            )
        ]
        for gateway, state in breaker_states().items()
    }


def worker_check() -> dict[str, list[CheckResult]]:
    """The newest worker heartbeat's age: warn when late, fail when no worker was seen for a
    while or ever (the emails and scheduled jobs wait until one runs)."""
    warn_after = settings.WORKER_HEARTBEAT_WARN_SECONDS
    fail_after = settings.WORKER_HEARTBEAT_FAIL_SECONDS
    newest, recent = worker_last_seen(within=timedelta(seconds=warn_after))
    if newest is None:
        return {
            "worker:heartbeat": [
                _result(FAIL, None, "s", output="no worker was ever seen: python manage.py worker")
            ]
        }
    age = round((timezone.now() - newest).total_seconds(), 1)
    status = FAIL if age > fail_after else WARN if age > warn_after else PASS
    return {
        "worker:heartbeat": [
            _result(
                status,
                age,
                "s",
                output=f"the newest worker heartbeat is {age:g} s old; {recent} worker(s) seen "
                f"in the last {warn_after} s",
            )
        ]
    }


def queue_check() -> dict[str, list[CheckResult]]:
    """The queue's depth (tasks waiting for a worker, and those scheduled for later) and its
    oldest waiting work. Huey keeps no time on a queued task, so the age reported is that of the
    oldest email not yet sent: every email is a task until it is sent, and it says honestly how
    long work has been waiting (an email retrying while the mail server is down counts too)."""
    oldest = outgoing_email_oldest_unsent()
    age = round((timezone.now() - oldest).total_seconds(), 1) if oldest else 0
    return {
        "queue:depth": [
            _result(PASS, HUEY.pending_count(), "tasks", component_id="waiting"),
            _result(PASS, HUEY.scheduled_count(), "tasks", component_id="scheduled"),
        ],
        "queue:oldest": [_result(PASS, age, "s", component_id="outbox")],
    }


def emails_stuck_check() -> dict[str, list[CheckResult]]:
    stuck = outgoing_emails_stuck_count()
    return {
        "emails:stuck": [
            _result(
                WARN if stuck else PASS,
                stuck,
                "emails",
                output=f"{stuck} email(s) overdue by more than 10 minutes or failed: see "
                "Outgoing emails in the back office",
            )
        ]
    }


# --- Pieces ---------------------------------------------------------------------------------------


def database_settings(alias: str) -> dict:
    """The alias's settings with a connect timeout that fits inside the probe's deadline."""
    settings_dict = dict(connections.settings[alias])
    options = dict(settings_dict.get("OPTIONS") or {})
    if settings_dict["ENGINE"].startswith("django.db.backends.postgresql"):
        options["connect_timeout"] = max(
            _PG_MIN_CONNECT_TIMEOUT, math.ceil(settings.HEALTH_CHECK_TIMEOUT)
        )
    elif settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        options["timeout"] = settings.HEALTH_CHECK_TIMEOUT
    settings_dict["OPTIONS"] = options
    return settings_dict


@contextmanager
def _short_lived_connection(alias: str):
    """A connection of our own, closed in the thread that opened it.

    Not Django's thread-local connection: that one would outlive the check in the pool thread and
    carries the site's longer connect timeout.
    """
    settings_dict = database_settings(alias)
    connection = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    try:
        yield connection
    finally:
        connection.close()


def _guarded(check: Check) -> Callable[[], dict[str, list[CheckResult]]]:
    def run():
        try:
            return check.run()
        except Exception as exc:
            return {check.key: [_failed(f"{type(exc).__name__}: {exc}".strip())]}
        finally:
            # The ORM (e.g. the migration recorder) may have opened this thread's own
            # connection; a pool thread lives on, so it must not keep one.
            connections.close_all()

    return run


def _writable(directory: Path, *, unwritable: str) -> CheckResult:
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".health-") as probe:
            probe.write(b"ok")
            probe.flush()
    except OSError as exc:
        return _result(unwritable, False, "boolean", output=f"{directory}: {exc.strerror}")
    return _result(PASS, True, "boolean")


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _timeout_ms() -> int:
    return max(1, int(settings.HEALTH_CHECK_TIMEOUT * 1000))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _result(status, value, unit, *, output="", component_id="") -> CheckResult:
    return CheckResult(
        status=status,
        observed_value=value,
        observed_unit=unit,
        output=output,
        component_id=component_id,
        time=_now(),
    )


def _at_most_warn(result: CheckResult) -> CheckResult:
    return dataclasses.replace(result, status=WARN) if result.status == FAIL else result


def _failed(output: str) -> CheckResult:
    return _result(FAIL, None, "", output=output)


def _worst(results: list[CheckResult]) -> str:
    return max((result.status for result in results), key=_SEVERITY.__getitem__, default=PASS)


def _log_problems(report: HealthReport) -> None:
    """Every failure, with its detail; a warning only when it starts (probes repeat every few s)."""
    for key, results in report.checks.items():
        status = _worst(results)
        previous = _last_status.get(key)
        _last_status[key] = status
        if status == PASS or (status == WARN and previous == WARN):
            continue
        detail = "; ".join(result.output for result in results if result.output) or "no detail"
        logger.log(
            logging.ERROR if status == FAIL else logging.WARNING,
            "health check %s: %s (%s)",
            key,
            status,
            detail,
            extra={"check": key, "check_status": status},
        )
