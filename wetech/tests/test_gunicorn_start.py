"""gunicorn.conf.py runs Django's system checks before any worker starts (as runserver does)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from wetech.tests.conftest import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _gunicorn(tmp_path, **env):
    port = _free_port()
    full_env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "LOG_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "DEBUG": "false",
        **env,
    }
    full_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wetechnologies.wsgi"],
        cwd=REPO_ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}"


def _stop(process) -> tuple[str, str]:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.communicate()


def test_gunicorn_refuses_to_start_the_simulators_with_debug_off(tmp_path):
    process, _ = _gunicorn(tmp_path, GATEWAY_SIMULATOR="true")
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=60)
    running = process.poll() is None
    _, stderr = _stop(process)

    assert not running, "gunicorn started with GATEWAY_SIMULATOR on and DEBUG off"
    assert process.returncode == 1
    assert "Django's system checks failed, so gunicorn does not start" in stderr
    assert "(wetech.E001) GATEWAY_SIMULATOR is on while DEBUG is off" in stderr
    assert "Booting worker" not in stderr


@pytest.mark.parametrize("env", [{}, {"DEBUG": "true", "GATEWAY_SIMULATOR": "true"}])
def test_gunicorn_starts_when_the_checks_pass(tmp_path, env):
    process, base = _gunicorn(tmp_path, **env)
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = requests.get(f"{base}/health/live/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
    finally:
        _, stderr = _stop(process)

    assert answer is not None, stderr
    assert answer.status_code == 200
