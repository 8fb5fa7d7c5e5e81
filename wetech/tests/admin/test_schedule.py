"""The schedule's runs in the back office: read-only, filtered by outcome, failures with their
reason."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from wetech.models import ScheduledRun
from wetech.ops.schedule import scheduled_job_run

pytestmark = pytest.mark.django_db

Outcome = ScheduledRun.Outcome


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("boss", "boss@wetech.co.tz", "pw-123456789")
    client.force_login(user)
    return client


def test_staff_see_each_jobs_runs_and_why_one_failed_read_only(staff, settings, tmp_path):
    settings.WORKER_RUNS_BACKUPS = True
    settings.BACKUP_DIR = tmp_path / "a-file"
    settings.BACKUP_DIR.write_text("not a folder")
    failed = scheduled_job_run(job="backup_db", host="backup-1:42")
    scheduled_job_run(job="prune_outbox", now=timezone.now() - timedelta(days=7), host="w-2:7")

    page = staff.get("/admin/wetech/scheduledrun/?outcome__exact=failed").content.decode()
    assert "backup-1:42" in page and "cannot use backup folder" in page
    assert "w-2:7" not in page
    assert "w-2:7" in staff.get("/admin/wetech/scheduledrun/?outcome__exact=ok").content.decode()
    assert staff.get("/admin/wetech/scheduledrun/add/").status_code == 403
    change = staff.get(f"/admin/wetech/scheduledrun/{failed.pk}/change/").content.decode()
    assert "cannot use backup folder" in change and 'name="_save"' not in change
    assert staff.post(f"/admin/wetech/scheduledrun/{failed.pk}/delete/").status_code == 403
    assert ScheduledRun.objects.count() == 2
