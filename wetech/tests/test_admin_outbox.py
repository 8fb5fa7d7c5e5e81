"""The outbox in the back office: read-only, filtered by status, "Send again now"."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from wetech.emails import email_send
from wetech.models import OutgoingEmail, WorkerHeartbeat

pytestmark = pytest.mark.django_db

Status = OutgoingEmail.Status


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("boss", "boss@wetech.co.tz", "pw-123456789")
    client.force_login(user)
    return client


def _email(reason: str, **changes) -> OutgoingEmail:
    email = email_send(template="receipt", to=["asha@example.co.tz"], context={}, reason=reason)
    OutgoingEmail.objects.filter(pk=email.pk).update(**changes)
    email.refresh_from_db()
    return email


def test_staff_see_failed_and_retrying_emails_with_their_error_read_only(staff):
    _email("payment WT-1", status=Status.FAILED, attempts=12, last_error="SMTPServerDisconnected")
    _email("payment WT-2", attempts=3, last_error="ConnectionRefusedError: [Errno 111]")
    _email("payment WT-3", status=Status.SENT)

    failed = staff.get("/admin/wetech/outgoingemail/?status__exact=failed").content.decode()
    pending = staff.get("/admin/wetech/outgoingemail/?status__exact=pending").content.decode()

    assert "payment WT-1" in failed and "SMTPServerDisconnected" in failed
    assert "payment WT-2" not in failed and "payment WT-3" not in failed
    assert "payment WT-2" in pending and "ConnectionRefusedError" in pending
    assert staff.get("/admin/wetech/outgoingemail/add/").status_code == 403
    email = OutgoingEmail.objects.get(reason="payment WT-1")
    change = staff.get(f"/admin/wetech/outgoingemail/{email.pk}/change/").content.decode()
    assert email.message_id.strip("<>") in change
    assert 'name="_save"' not in change


def test_send_again_now_hands_the_chosen_emails_to_the_worker(
    staff, mailoutbox, django_capture_on_commit_callbacks
):
    failed = _email("payment WT-1", status=Status.FAILED, attempts=12)
    sent = _email("payment WT-3", status=Status.SENT)
    HUEY.flush()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/admin/wetech/outgoingemail/",
            {"action": "send_again_now", "_selected_action": [failed.pk, sent.pk]},
            follow=True,
        )

    html = response.content.decode()
    assert "1 email(s) handed to the worker to send now; 1 left alone" in html
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert [task.args for task in HUEY.pending()] == [(failed.pk,)]
    assert mailoutbox == []  # the worker sends it, not the back office


def test_the_workers_seen_are_listed(staff):
    WorkerHeartbeat.objects.create(name="worker1:4242", seen_at=timezone.now())

    assert "worker1:4242" in staff.get("/admin/wetech/workerheartbeat/").content.decode()
