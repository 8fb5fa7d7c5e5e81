"""`manage.py worker`: the background worker and its schedule, under one name for operators and
process managers.

A thin wrapper over djhuey's `run_huey` (Huey's consumer): the same options, with this site's
defaults from `settings.HUEY["consumer"]` (thread workers, `WORKER_THREADS` of them; periodic tasks
on; SIGTERM stops it gracefully: the tasks under way finish, for up to 30 s, then it exits 0).
`--workers`, `--no-periodic`, `--graceful-signal` and the rest override them.

Where WORKER_RUNS_BACKUPS is true (and the schedule is on) it also runs this machine's own
schedule, the nightly backup, beside the shared queue's consumer (see wetech.ops.schedule).
"""

import logging

from django.conf import settings
from huey.contrib.djhuey.management.commands import run_huey

from wetech.ops.schedule import local_schedule_start


class Command(run_huey.Command):
    help = (
        "Run the background worker: the tasks queued on TASK_BROKER_URL and the schedule "
        "(Huey's consumer). Stops cleanly on SIGTERM or Ctrl-C."
    )

    def handle(self, *args, **options):
        huey_logger = logging.getLogger("huey")
        if not huey_logger.handlers:
            # run_huey gives a logger with no handler one of its own, which would print every
            # line twice and skip the site's redaction, JSON format and log files: the site's
            # handlers (through the root logger) carry Huey's lines instead.
            huey_logger.addHandler(logging.NullHandler())
            huey_logger.setLevel(logging.DEBUG if options.get("verbose") else logging.INFO)
        local = None
        if settings.WORKER_RUNS_BACKUPS and options.get("periodic") is not False:
            local = local_schedule_start()
        try:
            super().handle(*args, **options)
        finally:
            if local is not None:
                local.stop(graceful=True)
