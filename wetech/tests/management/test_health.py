import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from wetech.models import WorkerHeartbeat
from wetech.ops import health as health_service


@pytest.fixture(autouse=True)
def _folders(settings, tmp_path, monkeypatch):
    settings.LOG_DIR = tmp_path
    settings.BACKUP_DIR = tmp_path
    monkeypatch.setattr(health_service, "_migrations_applied", False)


@pytest.mark.django_db(transaction=True)
def test_prints_the_report_with_details_and_exits_zero_on_warn(capsys):
    WorkerHeartbeat.objects.create(name="worker1:100", seen_at=timezone.now())
    call_command("health")
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "warn"  # no backup yet
    assert report["checks"]["backups:age"][0]["output"] == "no backup found"
    assert "database:responseTime" in report["checks"]


@pytest.mark.django_db
def test_exits_non_zero_naming_what_failed(capsys, settings):
    settings.LOG_DIR = settings.LOG_DIR / "missing"
    with pytest.raises(CommandError, match=r"health: fail \(logs:writable, worker:heartbeat\)"):
        call_command("health")
    assert json.loads(capsys.readouterr().out)["status"] == "fail"


@pytest.mark.django_db
def test_ready_scope_checks_only_readiness(capsys, settings):
    settings.REDIS_URL = ""
    call_command("health", "--scope", "ready")
    assert set(json.loads(capsys.readouterr().out)["checks"]) == {
        "database:responseTime",
        "migrations:pending",
    }
