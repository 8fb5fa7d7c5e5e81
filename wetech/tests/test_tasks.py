"""The worker's tasks and schedule (wetech/tasks.py), as Huey registers them."""

from datetime import datetime

from huey.contrib.djhuey import HUEY

from wetech import tasks


def test_the_sweep_and_the_heartbeat_run_every_minute():
    periodic = {task.name: task for task in HUEY._registry.periodic_tasks}
    ours = {"email_sweep_task", "worker_heartbeat_task"}

    for name in ours:
        task = periodic[name]
        assert all(task.validate_datetime(datetime(2026, 3, 2, 9, m)) for m in range(60))
    # The scheduler asks once a minute: both are due every time, the first time included.
    assert {t.name for t in HUEY.read_periodic(datetime(2026, 3, 2, 9, 17))} >= ours


def test_an_email_task_is_an_ordinary_queued_task():
    assert "wetech.tasks.email_deliver_task" in HUEY._registry._registry
    tasks.email_deliver_task(42)
    [task] = HUEY.pending()
    assert (task.name, task.args) == ("email_deliver_task", (42,))
