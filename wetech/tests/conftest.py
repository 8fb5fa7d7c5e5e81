import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from huey.contrib.djhuey import HUEY
from huey.storage import SqliteStorage
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

REPO_ROOT = Path(__file__).resolve().parents[2]

# The embedded task queue of a test run is a file of its own, like its database: never the
# `var/huey.sqlite3` that `make run`'s worker reads (it would take the tests' tasks to its own
# database), nor another test process's. A worker started by a drill is given this file. The
# Redis queue of the PostgreSQL pass is the REDIS_URL database the pass was given.
if isinstance(HUEY.storage, SqliteStorage) and not os.environ.get("TASK_BROKER_URL"):
    HUEY.storage = SqliteStorage(
        name=HUEY.name,
        filename=str(Path(tempfile.gettempdir()) / f"wetech-test-huey-{os.getpid()}.sqlite3"),
    )

# Hypothesis: "ci" (the default) keeps the fuzzing inside the suite's time; pick another with
# `pytest --hypothesis-profile thorough`. Tests that fix their own max_examples keep it.
hypothesis_settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
hypothesis_settings.register_profile(
    "thorough", hypothesis_settings.get_profile("ci"), max_examples=500
)
hypothesis_settings.load_profile("ci")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """A test served by `live_server` talks to a server thread over HTTP and polls for what it
    does in the background: it is a timing-dependent drill wherever it lives. Runs before `-m`
    selects, so `-m "not slow_drill"` skips these too."""
    for item in items:
        if "live_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow_drill)


def pytest_terminal_summary(terminalreporter):
    """Say where the database-independent drills ran: `make test` runs them in the SQLite pass
    and deselects them in the PostgreSQL pass, so each pass's counts show it."""
    stats = terminalreporter.stats
    ran = {
        report.nodeid
        for outcome in ("passed", "failed", "skipped", "error")
        for report in stats.get(outcome, [])
        if "db_independent" in getattr(report, "keywords", {})
    }
    deselected = [
        item for item in stats.get("deselected", []) if item.get_closest_marker("db_independent")
    ]
    if ran:
        terminalreporter.write_line(f"db_independent drills: {len(ran)} ran in this pass")
    elif deselected:
        terminalreporter.write_line(
            f"db_independent drills: {len(deselected)} deselected (they run in the SQLite pass)"
        )


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters, tokens and breaker state must not leak from one test to the next,
    nor the status-query window a process keeps when the cache is down (attempt ids repeat
    between tests on SQLite)."""
    from wetech.payments import status_queries

    cache.clear()
    status_queries.forget_local_state()
    yield
    cache.clear()
    status_queries.forget_local_state()


@pytest.fixture(autouse=True)
def _empty_task_queue():
    """Each test starts with no queued or scheduled task left by another one."""
    HUEY.flush()
    yield
    HUEY.flush()


@pytest.fixture
def fakes(settings, monkeypatch):
    """In-process fake Pesapal and AzamPay clients (see payment_helpers), gateways configured."""
    from wetech.tests.payment_helpers import configure_gateways, install_fakes

    configure_gateways(settings)
    return install_fakes(monkeypatch)


@pytest.fixture
def pesapal(fakes):
    return fakes[0]


@pytest.fixture
def azampay(fakes):
    return fakes[1]


@pytest.fixture
def on_postgres():
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")


def run_django(*args, env=None, timeout=120):
    """Run `manage.py <args>` in a fresh interpreter with the given environment overrides."""
    # A subprocess is a fresh server: nothing the browser tests relaxed may reach it.
    full_env = {**os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE": None, **(env or {})}
    for key, value in list(full_env.items()):
        if value is None:
            del full_env[key]
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
