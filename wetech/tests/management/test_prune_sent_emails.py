"""`manage.py prune_sent_emails`: the outbox's retention for cron users."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from wetech.models import OutgoingEmail

pytestmark = pytest.mark.django_db

Status = OutgoingEmail.Status


def _sent(days_ago: int, n: int) -> OutgoingEmail:
    return OutgoingEmail.objects.create(
        template="receipt",
        to=["asha@example.co.tz"],
        reason=f"payment WT-{n}",
        message_id=f"<{n}.cmd@test>",
        status=Status.SENT,
        sent_at=timezone.now() - timedelta(days=days_ago),
    )


def test_it_deletes_the_emails_sent_before_the_cutoff(settings):
    settings.OUTBOX_KEEP_SENT_DAYS = 30
    _sent(45, 1)
    kept = _sent(10, 2)
    out = StringIO()

    call_command("prune_sent_emails", stdout=out)
    assert out.getvalue().strip() == (
        "prune_sent_emails: deleted 1 email(s) sent more than 30 day(s) ago"
    )
    assert list(OutgoingEmail.objects.values_list("pk", flat=True)) == [kept.pk]

    call_command("prune_sent_emails", "--older-than", "5", stdout=StringIO())
    assert not OutgoingEmail.objects.exists()


def test_a_negative_age_is_refused():
    with pytest.raises(CommandError, match="--older-than must be 0 to 36500 days"):
        call_command("prune_sent_emails", "--older-than", "-1")
