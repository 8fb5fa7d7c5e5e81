"""Fault drill: the database going away while the site is under load.

The site runs in a subprocess (`runserver --noreload`, threaded) against a scratch PostgreSQL
database reached through a TCP proxy that lives in this test; killing the proxy drops every
open connection and refuses new ones, as a database host that vanishes would.
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import psycopg2
import pytest
import requests
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.test import Client as HttpClient

from wetech.tests.conftest import REPO_ROOT, run_django

PORTS = range(8131, 8141)
UNAVAILABLE_TEXT = "The site is briefly unavailable"


class TcpProxy:
    """Forwards a loopback port to the database; `kill()` drops everything at once."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._dead = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._dead.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._dead.is_set():
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def kill(self):
        self._dead.set()
        # shutdown() first: it wakes the thread blocked in accept() and the pumps in recv().
        for sock in [self.listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            for sock in [self.listener, *self._sockets]:
                sock.close()


def _free_port() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 8131-8140")


def _admin_execute(sql: str) -> None:
    db = settings.DATABASES["default"]
    connection = psycopg2.connect(
        host=db["HOST"] or "127.0.0.1",
        port=int(db["PORT"] or 5432),
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def _database_url(name: str, host: str, port: int) -> str:
    db = settings.DATABASES["default"]
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{quote(db['USER'], safe='')}{password}@{host}:{port}/{name}"


@pytest.fixture
def scratch_database(on_postgres):
    """A migrated database of its own (name derived from the test database's, so parallel
    runs on other databases never meet)."""
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_dbdrill"[:63]
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(f'CREATE DATABASE "{name}"')
    direct = _database_url(name, db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    migrated = run_django("migrate", "--noinput", env={"DATABASE_URL": direct})
    assert migrated.returncode == 0, migrated.stderr
    yield name
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def site_through_proxy(scratch_database):
    db = settings.DATABASES["default"]
    proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(scratch_database, "127.0.0.1", proxy.port),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_DIR": str(REPO_ROOT / "logs"),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/health/ready/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None, "the site did not start"
            assert time.monotonic() < deadline, "the site did not become ready"
            time.sleep(0.1)
        yield base, proxy
    finally:
        proxy.kill()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


PATHS = ("/health/ready/", "/health/live/", "/", "/invoices/no-such-invoice-token-0000000000/")


def _hammer(base, stop: threading.Event, started_at: float, worker: int) -> list[tuple]:
    """Request every path in turn until told to stop: (started, path, status, seconds, body)."""
    results = []
    session = requests.Session()
    n = worker
    while not stop.is_set():
        path = PATHS[n % len(PATHS)]
        n += 1
        began = time.monotonic()
        try:
            response = session.get(f"{base}{path}", timeout=(2, 10))
            status, body, retry_after = (
                response.status_code,
                response.text,
                response.headers.get("Retry-After"),
            )
        except requests.RequestException as exc:
            status, body, retry_after = None, repr(exc), None
        results.append(
            (began - started_at, path, status, time.monotonic() - began, body, retry_after)
        )
    return results


@pytest.mark.slow_drill
@pytest.mark.django_db(transaction=True)
def test_database_gone_under_load(site_through_proxy):
    base, proxy = site_through_proxy
    stop = threading.Event()
    started_at = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        workers = [pool.submit(_hammer, base, stop, started_at, n) for n in range(4)]
        time.sleep(1.5)
        killed_at = time.monotonic() - started_at
        proxy.kill()
        time.sleep(4)
        stop.set()
        results = [row for worker in workers for row in worker.result(timeout=30)]

    before = [row for row in results if row[0] + row[3] < killed_at]
    after = [row for row in results if row[0] > killed_at]
    assert before and after

    # No request hangs: every one answered, and within a bound.
    assert all(status is not None for _, _, status, _, _, _ in results), [
        row[:4] for row in results if row[2] is None
    ]
    assert max(seconds for _, _, _, seconds, _, _ in results) < 5

    # With the database up everything answers (the unknown invoice is a plain 404).
    assert {(path, status) for _, path, status, *_ in before} <= {
        ("/health/ready/", 200),
        ("/health/live/", 200),
        ("/", 200),
        (PATHS[3], 404),
    }

    # Liveness never notices; readiness turns 503 within about two seconds.
    assert {status for _, path, status, *_ in after if path == "/health/live/"} == {200}
    settled = [row for row in after if row[0] > killed_at + 2.5]
    ready_late = {status for _, path, status, *_ in settled if path == "/health/ready/"}
    assert ready_late == {503}

    # Pages that need the database say so kindly: 503 with Retry-After, never a traceback.
    page_rows = [row for row in settled if row[1] == PATHS[3]]
    assert page_rows
    for _, _, status, _, body, retry_after in page_rows:
        assert status == 503
        assert UNAVAILABLE_TEXT in body
        assert "Traceback" not in body
        assert retry_after is not None
    # The home page either still has what it needs or says the same.
    assert {row[2] for row in settled if row[1] == "/"} <= {200, 503}


# --- the 503 page itself, on any database --------------------------------------------------------


@pytest.fixture
def failing_view(settings):
    from wetech.tests.drills import urls_db_failing

    settings.ROOT_URLCONF = urls_db_failing.__name__
    return urls_db_failing


@pytest.mark.db_independent
@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_database_outage_is_a_503_with_retry_after_not_a_500(failing_view, error, caplog):
    failing_view.raise_next = error("could not connect to server: db-primary.internal:5432")
    response = HttpClient(raise_request_exception=False).get("/db-outage/")
    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert UNAVAILABLE_TEXT in html
    assert "db-primary" not in html
    assert "Traceback" not in html
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert logged and logged[-1].levelname == "ERROR" and logged[-1].exc_info


@pytest.mark.db_independent
def test_a_database_outage_answers_json_clients_in_the_contract_shape(failing_view):
    failing_view.raise_next = OperationalError("server closed the connection unexpectedly")
    response = HttpClient(raise_request_exception=False).get(
        "/db-outage/", HTTP_ACCEPT="application/json"
    )
    error = response.json()["error"]
    assert response.status_code == 503
    assert error["code"] == "service_unavailable"
    assert error["retry_after"] == 30
    assert error["request_id"] == response["X-Request-ID"]
    assert "server closed" not in response.content.decode()


@pytest.mark.db_independent
def test_other_errors_are_still_a_500(failing_view):
    failing_view.raise_next = RuntimeError("a real bug")
    response = HttpClient(raise_request_exception=False).get("/db-outage/")
    assert response.status_code == 500
    assert "Retry-After" not in response
