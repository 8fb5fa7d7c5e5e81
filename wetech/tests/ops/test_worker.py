"""The worker's heartbeat (wetech/ops/worker.py) and its task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from wetech.models import WorkerHeartbeat
from wetech.ops.worker import worker_heartbeat_record, worker_last_seen, worker_name
from wetech.tasks import worker_heartbeat_task

pytestmark = pytest.mark.django_db


def test_each_worker_process_keeps_one_row_with_when_it_was_last_seen(time_machine):
    time_machine.move_to("2026-03-02T09:00:00+03:00", tick=False)
    worker_heartbeat_task.call_local()
    time_machine.move_to("2026-03-02T09:01:00+03:00", tick=False)
    worker_heartbeat_task.call_local()

    [row] = WorkerHeartbeat.objects.all()
    assert row.name == worker_name()
    assert row.started_at.isoformat() == "2026-03-02T06:00:00+00:00"
    assert row.seen_at.isoformat() == "2026-03-02T06:01:00+00:00"


def test_the_newest_heartbeat_and_the_workers_seen_lately(time_machine):
    time_machine.move_to("2026-03-02T09:00:00+03:00", tick=False)
    assert worker_last_seen(within=timedelta(minutes=2)) == (None, 0)
    worker_heartbeat_record(name="web1:10")
    time_machine.move_to("2026-03-02T09:05:00+03:00", tick=False)
    newest = worker_heartbeat_record(name="web2:20").seen_at

    assert worker_last_seen(within=timedelta(minutes=2)) == (newest, 1)
    assert worker_last_seen(within=timedelta(minutes=10)) == (newest, 2)


def test_workers_gone_for_a_day_are_forgotten():
    worker_heartbeat_record(name="old:1")
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(days=1, seconds=1))

    worker_heartbeat_record(name="new:2")

    assert list(WorkerHeartbeat.objects.values_list("name", flat=True)) == ["new:2"]
