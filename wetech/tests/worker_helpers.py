"""A real background worker for the tests: `manage.py worker` in a subprocess that shares this
test run's database and task queue (the way a worker on another machine would).

On SQLite the test database is a file (settings give each test process its own) and the queue is
the embedded file conftest gave this process; on PostgreSQL the test database by URL and the queue
is Redis (REDIS_URL). Tests that start one must commit what it reads:
`@pytest.mark.django_db(transaction=True)`.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from huey.contrib.djhuey import HUEY
from huey.storage import SqliteStorage

from wetech.tests.conftest import REPO_ROOT

STARTED = "Huey consumer started"


def database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (
        f"postgres://{quote(db['USER'], safe='')}{password}@{db['HOST'] or '127.0.0.1'}"
        f":{db['PORT'] or 5432}/{db['NAME']}"
    )


def broker_url() -> str:
    if isinstance(HUEY.storage, SqliteStorage):
        return f"sqlite:///{HUEY.storage.filename}"
    return settings.TASK_BROKER_URL


def shared_env(**extra) -> dict:
    """The environment of a process that works on this test run's database and queue."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "TASK_BROKER_URL": broker_url(),
        "LOG_DIR": str(settings.LOG_DIR),
        **{key: str(value) for key, value in extra.items() if value is not None},
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    for key in [key for key, value in extra.items() if value is None]:
        env.pop(key, None)
    return env


class Worker:
    """One worker process; its output (stdout and stderr) goes to a file read by `wait_for`."""

    def __init__(self, log_path: Path, *, argv=None, **env):
        self.log_path = Path(log_path)
        self.argv = argv or ["worker", "--workers", "1"]
        self.env = shared_env(**env)
        self.process: subprocess.Popen | None = None

    def start(self, *, ready_timeout: float = 30) -> "Worker":
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", *self.argv],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for(STARTED, timeout=ready_timeout)
        # The consumer sets its signal handlers after that line: a SIGTERM before them would kill
        # it like any process. Linux says when they are set.
        wait_until(
            lambda: catches_signal(self.process.pid, signal.SIGTERM),
            timeout=ready_timeout,
            message=f"the worker never set its SIGTERM handler:\n{self.output}",
        )
        return self

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for(self, text: str, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the worker exited ({self.process.returncode}):\n{self.output}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from the worker in {timeout} s:\n{self.output}")
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, *, timeout: float = 15) -> int:
        """Send `sig` and wait for the process to end; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)

    def __enter__(self) -> "Worker":
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        elif not self._log.closed:
            self._log.close()


def wait_until(condition, *, timeout: float, interval: float = 0.05, message: str = "") -> None:
    """Poll `condition()` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"not true within {timeout} s")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def catches_signal(pid: int, sig: int) -> bool:
    """Has process `pid` set a handler for `sig` (Linux: SigCgt in /proc/PID/status)?"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (sig - 1)))
