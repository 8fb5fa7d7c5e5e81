"""`prune_notifications`: a thin, cron-friendly wrapper over `notifications_prune`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from wetech.models import GatewayNotification
from wetech.tests.conftest import run_django

Result = GatewayNotification.Result


def _notification(result, *, days_old):
    notification = GatewayNotification.objects.create(
        gateway="azampay", kind="callback", method="POST", result=result
    )
    GatewayNotification.objects.filter(pk=notification.pk).update(
        received_at=timezone.now() - timedelta(days=days_old)
    )


def _run(*args) -> str:
    out = StringIO()
    call_command("prune_notifications", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_prints_what_it_deleted_per_state():
    for result in (Result.IGNORED, Result.IGNORED, Result.REJECTED, Result.RECEIVED, Result.ERROR):
        _notification(result, days_old=120)
    _notification(Result.IGNORED, days_old=10)

    out = _run()

    assert out == (
        "prune_notifications: deleted 3 handled gateway notification(s) received more than "
        "90 day(s) ago (applied 0, duplicate 0, ignored 2, rejected 1)\n"
    )
    assert sorted(GatewayNotification.objects.values_list("result", flat=True)) == [
        "error",
        "ignored",
        "received",
    ]


@pytest.mark.django_db
def test_older_than_takes_days():
    _notification(Result.IGNORED, days_old=10)

    assert "deleted 0 " in _run("--older-than", "11")
    assert "deleted 1 " in _run("--older-than", "9")
    assert GatewayNotification.objects.count() == 0


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", "99999999"])
def test_bad_days_are_a_command_error(value):
    with pytest.raises(CommandError, match="--older-than must be a whole number of days"):
        call_command("prune_notifications", "--older-than", value)


def test_from_the_command_line_a_bad_argument_is_one_line_and_a_failure(tmp_path):
    result = run_django(
        "prune_notifications",
        "--older-than",
        "-5",
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "LOG_DIR": str(tmp_path),
            "REDIS_URL": None,
        },
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: --older-than must be a whole number of days from 0 to 36500, not '-5'"
    ]
    assert result.stdout == ""
