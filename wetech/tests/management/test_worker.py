"""`manage.py worker` (Huey's consumer) and `make run`'s launcher, as real processes."""

import os
import signal
import subprocess
import time

import pytest

from wetech.tests.conftest import REPO_ROOT
from wetech.tests.worker_helpers import STARTED, Worker, free_port, shared_env, wait_until

pytestmark = [pytest.mark.slow_drill, pytest.mark.db_independent]


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_schedule_with_threads_and_stops_cleanly_on_sigterm(tmp_path):
    worker = Worker(tmp_path / "worker.log", argv=["worker"]).start()

    started = time.monotonic()
    code = worker.stop(signal.SIGTERM, timeout=15)

    assert code == 0, worker.output
    assert time.monotonic() - started < 10
    assert f"{STARTED} with 2 thread" in worker.output
    assert "Periodic tasks are enabled." in worker.output
    assert "Received SIGTERM" in worker.output
    assert "Shutting down gracefully..." in worker.output
    assert "Consumer exiting." in worker.output


@pytest.mark.django_db(transaction=True)
def test_the_options_of_run_huey_pass_through(tmp_path):
    with Worker(tmp_path / "worker.log", argv=["worker", "--workers", "1", "--no-periodic"]) as w:
        assert f"{STARTED} with 1 thread" in w.output
        assert "Periodic tasks are disabled." in w.output
        assert w.stop() == 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.django_db(transaction=True)
def test_make_run_starts_the_site_and_the_worker_and_ctrl_c_stops_both(tmp_path):
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            ["tools/run_dev.sh"],
            cwd=REPO_ROOT,
            env=shared_env(DEBUG="true", RUN_ADDR=f"127.0.0.1:{free_port()}"),
            stdout=out,
            stderr=subprocess.STDOUT,
            # A terminal of its own, in effect: Ctrl-C goes to this whole process group.
            start_new_session=True,
        )
        try:
            wait_until(
                lambda: STARTED in log.read_text() and "Quit the server with" in log.read_text(),
                timeout=60,
                message=f"make run did not start both:\n{log.read_text()}",
            )
            os.killpg(launcher.pid, signal.SIGINT)  # Ctrl-C
            launcher.wait(timeout=20)
            wait_until(lambda: not _group_alive(launcher.pid), timeout=20)
        finally:
            if _group_alive(launcher.pid):
                os.killpg(launcher.pid, signal.SIGKILL)
    output = log.read_text()
    assert "Consumer exiting." in output
    assert launcher.returncode == 130
