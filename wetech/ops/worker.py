"""The background worker's heartbeat: each worker process writes when it was last seen.

In the database (not the cache, not a file), so /health/ on every web node sees every worker,
whichever machine it runs on. `worker_heartbeat_task` calls this every minute.
"""

import os
import socket
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from wetech.models import WorkerHeartbeat

# Rows of workers gone for longer than this are deleted by the next heartbeat of any worker.
FORGET_AFTER = timedelta(days=1)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_heartbeat_record(*, name: str | None = None) -> WorkerHeartbeat:
    now = timezone.now()
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        name=name or worker_name(),
        defaults={"seen_at": now},
        create_defaults={"started_at": now, "seen_at": now},
    )
    WorkerHeartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()
    return heartbeat


def worker_last_seen(*, within: timedelta) -> tuple[datetime | None, int]:
    """The newest heartbeat's time (None: no worker was ever seen) and how many workers were
    seen within `within`."""
    newest = WorkerHeartbeat.objects.aggregate(newest=Max("seen_at"))["newest"]
    recent = WorkerHeartbeat.objects.filter(seen_at__gte=timezone.now() - within).count()
    return newest, recent
