"""The outbox (wetech/emails.py): queued in the caller's transaction, delivered by the worker's
task with its stable Message-ID, retried with backoff, given up with an ERROR, swept when lost.

The worker's service and tasks are called directly here (unit tests); the drills in
tests/drills/test_mail_outbox.py run a real worker against a real SMTP server.
"""

import logging
import socket
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from wetech import emails
from wetech.emails import (
    Email,
    attachment_renderer_register,
    context_from_json,
    context_to_json,
    email_deliver,
    email_retry_delay,
    email_send,
    emails_send,
    outgoing_emails_due,
    outgoing_emails_retry_now,
)
from wetech.models import Client, OutgoingEmail
from wetech.tasks import email_deliver_task, email_sweep_task
from wetech.tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db

Status = OutgoingEmail.Status

TEMPLATES = {
    # A subject template with line breaks, as an editor may leave them.
    "emails/greeting_subject.txt": "Hello\n  {{ person.name }}\n",
    "emails/greeting.txt": (
        "Dear {{ person.name }},\nyou owe {{ amount }} by {{ due|date:'j F Y' }}.\n"
    ),
    "emails/language_subject.txt": "{% load i18n %}{% get_current_language as l %}In {{ l }}",
    "emails/language.txt": "-",
    "emails/signed_subject.txt": "From {{ company.name }}",
    "emails/signed.txt": (
        "{% if attachment_names %}Attached: {{ attachment_names|join:', ' }}.\n{% endif %}"
        "{{ company.name }}, TIN {{ company.tin }}, VRN {{ company.vrn }}\n"
    ),
}


@pytest.fixture(autouse=True)
def _templates():
    with override_settings(
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", TEMPLATES)]},
            }
        ]
    ):
        yield


@pytest.fixture
def person():
    return Client.objects.create(name="Asha", email="asha@example.co.tz", phone="+255712345678")


def _queue(person, **overrides) -> OutgoingEmail:
    fields = {
        "template": "greeting",
        "to": ["asha@example.co.tz"],
        "context": {"person": person, "amount": Decimal("413000.00"), "due": date(2026, 3, 16)},
        "reason": f"person {person.pk}",
        **overrides,
    }
    return email_send(**fields)


def _closed_port() -> int:
    """A local port nothing listens on: a mail server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _smtp(port: int):
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_TIMEOUT=2,
    )


def _age(email: OutgoingEmail, **fields) -> None:
    OutgoingEmail.objects.filter(pk=email.pk).update(**fields)
    email.refresh_from_db()


# --- queue ----------------------------------------------------------------------------------------


def test_queueing_inserts_a_plain_json_row_and_sends_nothing(person, mailoutbox):
    email = _queue(
        person, context={"person": person, "amount": Decimal("413000.00"), "n": [1, None]}
    )

    email.refresh_from_db()
    assert (email.template, email.to, email.reason) == (
        "greeting",
        ["asha@example.co.tz"],
        f"person {person.pk}",
    )
    assert email.context == {
        "person": {"__model__": "wetech.client", "pk": person.pk},
        "amount": {"__decimal__": "413000.00"},
        "n": [1, None],
    }
    assert (email.status, email.attempts, email.language, email.attachments) == (
        "pending",
        0,
        "",
        [],
    )
    assert email.message_id.startswith("<") and email.message_id.endswith("@127.0.0.1>")
    assert mailoutbox == []


def test_the_worker_hears_of_it_only_when_the_transaction_commits(
    person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue(person)
        assert HUEY.pending_count() == 0
    assert [task.args for task in HUEY.pending()] == [(email.pk,)]


def test_the_emails_of_one_change_are_one_insert_and_a_task_each(
    person, django_capture_on_commit_callbacks, django_assert_num_queries
):
    greeting = Email(
        template="greeting", to=[person.email], context={"person": person}, reason="person"
    )
    staff = Email(
        template="greeting",
        to=["a@wetech.co.tz", "b@wetech.co.tz"],
        context={},
        reason="person",
        language="en",
    )
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(1):
        rows = emails_send([greeting, staff])

    assert [row.pk for row in rows] == list(
        OutgoingEmail.objects.order_by("pk").values_list("pk", flat=True)
    )
    assert [row.to for row in rows] == [[person.email], ["a@wetech.co.tz", "b@wetech.co.tz"]]
    assert len({row.message_id for row in rows}) == 2
    assert sorted(task.args for task in HUEY.pending()) == [(rows[0].pk,), (rows[1].pk,)]
    assert emails_send([]) == []


def test_one_email_without_a_recipient_queues_none_of_the_batch(person):
    good = Email(template="greeting", to=[person.email], context={}, reason="person")
    with pytest.raises(ValueError, match="no recipient"):
        emails_send([good, Email(template="greeting", to=[], context={}, reason="person")])
    assert not OutgoingEmail.objects.exists()


def test_a_rolled_back_change_leaves_no_email_and_no_task(person):
    with pytest.raises(RuntimeError), transaction.atomic():
        _queue(person)
        raise RuntimeError("the change failed")
    assert not OutgoingEmail.objects.exists()
    assert HUEY.pending_count() == 0


def test_the_context_rule_round_trips_records_and_values(person):
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.get_current_timezone())
    stored = context_to_json(
        {"person": person, "when": moment, "day": date(2026, 3, 2), "money": Decimal("1.50")}
    )

    assert stored["when"] == {"__datetime__": "2026-03-02T09:30:00+03:00"}
    restored = context_from_json(stored)
    assert restored == {
        "person": person,
        "when": moment,
        "day": date(2026, 3, 2),
        "money": Decimal("1.50"),
    }


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes"])
def test_what_json_cannot_hold_is_refused_in_the_caller(person, value):
    with pytest.raises(TypeError, match="cannot go into an email's context"):
        _queue(person, context={"person": person, "odd": value})


def test_an_unsaved_record_or_no_recipient_is_refused(person):
    with pytest.raises(TypeError, match=r"an unsaved wetech\.Client"):
        _queue(person, context={"person": Client(name="x")})
    with pytest.raises(ValueError, match="no recipient"):
        _queue(person, to=[])


# --- deliver --------------------------------------------------------------------------------------


def test_delivery_renders_the_record_as_it_is_then_sends_with_the_message_id(
    person, mailoutbox, caplog
):
    caplog.set_level(logging.INFO, logger="wetech.emails")
    email = _queue(person)
    Client.objects.filter(pk=person.pk).update(name="Asha Mwinyi")  # changed after queueing

    assert email_deliver(outgoing_email_id=email.pk) is None

    [message] = mailoutbox
    assert message.to == ["asha@example.co.tz"]
    assert message.subject == "Hello Asha Mwinyi"  # one header line, the record as it is now
    assert message.body == "Dear Asha Mwinyi,\nyou owe 413000.00 by 16 March 2026.\n"
    assert message.extra_headers["Message-ID"] == email.message_id
    assert message.message()["Message-ID"] == email.message_id
    email.refresh_from_db()
    assert (email.status, email.attempts, email.claimed_at, email.last_error) == (
        "sent",
        1,
        None,
        "",
    )
    assert email.sent_at is not None
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", f"email greeting for person {person.pk} sent")
    ]


def test_a_sent_email_is_never_sent_again(person, mailoutbox):
    email = _queue(person)
    email_deliver(outgoing_email_id=email.pk)
    email_deliver(outgoing_email_id=email.pk)  # a duplicate task
    _age(email, claimed_at=timezone.now() - timedelta(days=1))
    email_deliver(outgoing_email_id=email.pk)

    assert len(mailoutbox) == 1


def test_an_email_another_worker_holds_is_left_to_it_until_its_lease_expires(
    person, mailoutbox, settings
):
    settings.EMAIL_LEASE_SECONDS = 300
    email = _queue(person)
    _age(
        email, status=Status.SENDING, claimed_at=timezone.now() - timedelta(seconds=290), attempts=1
    )

    email_deliver(outgoing_email_id=email.pk)
    assert mailoutbox == []

    _age(email, claimed_at=timezone.now() - timedelta(seconds=301))
    email_deliver(outgoing_email_id=email.pk)
    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 2)


def test_an_email_not_yet_due_waits(person, mailoutbox):
    email = _queue(person)
    _age(email, next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert email_deliver(outgoing_email_id=email.pk) is None
    assert mailoutbox == []
    assert OutgoingEmail.objects.get().attempts == 0


def test_a_mail_server_that_is_down_costs_an_attempt_and_sets_the_next(person, settings, caplog):
    caplog.set_level(logging.INFO, logger="wetech.emails")
    settings.EMAIL_RETRY_BASE_SECONDS = 60
    email = _queue(person)

    before = timezone.now()
    with _smtp(_closed_port()):
        retry_at = email_deliver(outgoing_email_id=email.pk)

    email.refresh_from_db()
    assert (email.status, email.attempts, email.claimed_at) == ("pending", 1, None)
    assert email.last_error.startswith("ConnectionRefusedError: [Errno 111]")
    assert retry_at == email.next_attempt_at == email.enqueued_at
    assert timedelta(seconds=30) <= retry_at - before <= timedelta(seconds=61)
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage().startswith(
        f"email greeting for person {person.pk} could not be sent (attempt 1 of 12), "
        "next attempt at "
    )


def test_the_last_attempt_fails_for_good_with_an_error_for_staff(person, settings, caplog):
    settings.EMAIL_MAX_ATTEMPTS = 3
    email = _queue(person)
    _age(email, attempts=2)

    with _smtp(_closed_port()):
        assert email_deliver(outgoing_email_id=email.pk) is None

    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 3)
    [record] = [r for r in caplog.records if r.name == "wetech.emails"]
    assert record.levelname == "ERROR"
    assert record.getMessage().startswith(
        f"email greeting for person {person.pk} failed for good after 3 attempt(s): "
        "ConnectionRefusedError"
    )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"template": "no_such_template"}, "TemplateDoesNotExist: emails/no_such_template"),
        ({"attachments": [{"kind": "nothing_renders_this"}]}, "UnknownAttachmentKind: no renderer"),
    ],
)
def test_what_no_retry_can_fix_fails_at_once(person, mailoutbox, caplog, overrides, error):
    email = _queue(person, **overrides)

    assert email_deliver(outgoing_email_id=email.pk) is None

    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 1)
    assert email.last_error.startswith(error)
    assert mailoutbox == []
    assert "(no retry can fix it)" in caplog.records[-1].getMessage()


def test_a_deleted_record_fails_at_once(person, mailoutbox):
    email = _queue(person)
    person.delete()

    email_deliver(outgoing_email_id=email.pk)

    email.refresh_from_db()
    assert email.status == "failed"
    assert email.last_error.startswith("DoesNotExist: Client matching query does not exist")


@pytest.mark.slow_drill
# How the SMTP server's answers are judged: the same whatever the database.
@pytest.mark.db_independent
def test_addresses_the_real_server_refuses_for_good_fail_at_once_the_rest_go_through(person):
    with SmtpSink() as sink, _smtp(sink.port):
        sink.refused = {"gone@example.co.tz"}
        refused = _queue(person, to=["gone@example.co.tz"])
        partly = _queue(person, to=["gone@example.co.tz", "asha@example.co.tz"])

        email_deliver(outgoing_email_id=refused.pk)
        email_deliver(outgoing_email_id=partly.pk)

        refused.refresh_from_db()
        partly.refresh_from_db()
        assert refused.status == "failed"
        assert refused.last_error.startswith("SMTPRecipientsRefused")
        assert partly.status == "sent"
        assert [(m.message_id, m.rcpt_tos) for m in sink.received] == [
            (partly.message_id, ("asha@example.co.tz",))
        ]


def test_attachments_are_rendered_by_the_worker_not_when_queued(person, mailoutbox, monkeypatch):
    monkeypatch.setattr(emails, "_attachment_renderers", {})
    rendered = []

    def render(*, person_id):
        rendered.append(person_id)
        return (f"person-{person_id}.txt", b"the document", "text/plain")

    attachment_renderer_register("person_note", render)
    email = _queue(person, attachments=[{"kind": "person_note", "person_id": person.pk}])
    assert rendered == []
    assert email.attachments == [{"kind": "person_note", "person_id": person.pk}]

    email_deliver(outgoing_email_id=email.pk)

    assert rendered == [person.pk]
    [message] = mailoutbox
    assert [tuple(a) for a in message.attachments] == [
        (f"person-{person.pk}.txt", "the document", "text/plain")
    ]


def test_an_attachment_must_be_a_spec_with_a_kind(person):
    with pytest.raises(TypeError, match="an attachment is a spec"):
        _queue(person, attachments=[("invoice.pdf", b"%PDF", "application/pdf")])


def test_the_email_is_rendered_in_its_language(person, mailoutbox):
    email = _queue(person, template="language", language="sw")
    default = _queue(person, template="language")

    email_deliver(outgoing_email_id=email.pk)
    email_deliver(outgoing_email_id=default.pk)

    assert [m.subject for m in mailoutbox] == ["In sw", "In en"]


# --- backoff --------------------------------------------------------------------------------------


def test_the_backoff_doubles_with_jitter_up_to_its_cap_about_a_day_in_all(settings):
    settings.EMAIL_RETRY_BASE_SECONDS = 60
    settings.EMAIL_RETRY_MAX_SECONDS = 8 * 3600
    for attempts, ceiling in [(1, 60), (2, 120), (5, 960), (9, 15360), (10, 28800), (30, 28800)]:
        for _ in range(50):
            assert ceiling / 2 <= email_retry_delay(attempts=attempts) <= ceiling
    # Twelve attempts: eleven waits between them.
    longest = sum(min(28800, 60 * 2 ** (n - 1)) for n in range(1, 12))
    assert 20 * 3600 < longest < 26 * 3600
    assert longest / 2 > 10 * 3600


# --- the tasks, the sweep, staff's "send again" ---------------------------------------------------


def test_the_task_delivers_and_after_a_failure_schedules_itself_for_the_next_attempt(
    person, mailoutbox
):
    email = _queue(person)
    with _smtp(_closed_port()):
        email_deliver_task.call_local(email.pk)

    email.refresh_from_db()
    # Queued with its time: the worker holds it in the schedule until then.
    [retry] = HUEY.pending()
    assert retry.args == (email.pk,)
    assert retry.eta == email.next_attempt_at.astimezone(UTC).replace(tzinfo=None)

    _age(email, next_attempt_at=timezone.now())
    email_deliver_task.call_local(email.pk)
    assert len(mailoutbox) == 1


def test_the_sweep_queues_again_only_the_emails_whose_task_was_lost(person, settings):
    settings.EMAIL_LEASE_SECONDS = 300
    now = timezone.now()
    long_ago = now - timedelta(seconds=301)
    fresh = _queue(person)  # its task was queued just now
    lost = _queue(person)
    _age(lost, next_attempt_at=long_ago, enqueued_at=long_ago)
    dead_worker = _queue(person)
    _age(dead_worker, status=Status.SENDING, claimed_at=long_ago, enqueued_at=long_ago)
    busy_worker = _queue(person)
    _age(busy_worker, status=Status.SENDING, claimed_at=now, enqueued_at=long_ago)
    waiting = _queue(person)
    _age(waiting, next_attempt_at=now + timedelta(hours=1), enqueued_at=now + timedelta(hours=1))
    for done in (_queue(person), _queue(person)):
        _age(done, status=Status.SENT if done.pk % 2 else Status.FAILED, enqueued_at=long_ago)
    HUEY.flush()

    email_sweep_task.call_local()

    assert sorted(task.args for task in HUEY.pending()) == [(lost.pk,), (dead_worker.pk,)]
    assert fresh.pk not in [task.args[0] for task in HUEY.pending()]
    # Queued now: the next sweep leaves them to that task for a lease.
    assert outgoing_emails_due() == []


def test_send_again_now_gives_a_failed_email_a_new_round(
    person, mailoutbox, django_capture_on_commit_callbacks
):
    failed = _queue(person)
    _age(failed, status=Status.FAILED, attempts=12, last_error="SMTPServerDisconnected")
    retrying = _queue(person)
    _age(retrying, attempts=3, next_attempt_at=timezone.now() + timedelta(hours=2))
    sent = _queue(person)
    _age(sent, status=Status.SENT)
    HUEY.flush()

    with django_capture_on_commit_callbacks(execute=True):
        assert outgoing_emails_retry_now(ids=[failed.pk, retrying.pk, sent.pk]) == 2

    failed.refresh_from_db()
    retrying.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == (
        "pending",
        0,
        "SMTPServerDisconnected",
    )
    assert retrying.attempts == 3 and retrying.next_attempt_at <= timezone.now()
    assert sorted(task.args for task in HUEY.pending()) == [(failed.pk,), (retrying.pk,)]
    for task in HUEY.pending():
        email_deliver(outgoing_email_id=task.args[0])
    assert len(mail.outbox) == 2


def _deliver(email):
    email_deliver(outgoing_email_id=email.pk)


def test_it_attaches_documents_and_the_text_can_name_them(mailoutbox, settings):
    settings.COMPANY_NAME = "WeTech Ltd"
    settings.COMPANY_TIN = "123-456-789"
    settings.COMPANY_VRN = "40-012345-A"
    pdf = b"%PDF-1.4 receipt"
    attachment_renderer_register(
        "test_receipt", lambda *, number: (f"{number}.pdf", pdf, "application/pdf")
    )

    email = email_send(
        template="signed",
        to=["asha@example.co.tz"],
        context={},
        reason="payment WT-2026-00001-0A1B2C3D",
        attachments=[{"kind": "test_receipt", "number": "WT-2026-00001"}],
    )
    _deliver(email)

    [message] = mailoutbox
    assert message.subject == "From WeTech Ltd"
    assert message.body == (
        "Attached: WT-2026-00001.pdf.\nWeTech Ltd, TIN 123-456-789, VRN 40-012345-A\n"
    )
    assert message.attachments == [("WT-2026-00001.pdf", pdf, "application/pdf")]


def test_without_attachments_nothing_is_attached_or_said(mailoutbox):
    _deliver(email_send(template="signed", to=["asha@example.co.tz"], context={}, reason="lead 7"))

    [message] = mailoutbox
    assert message.attachments == []
    assert not message.body.startswith("Attached")


def test_the_callers_context_wins_over_the_defaults(mailoutbox):
    email = email_send(
        template="signed",
        to=["asha@example.co.tz"],
        context={"company": {"name": "Someone else"}},
        reason="lead 7",
    )
    _deliver(email)

    assert mailoutbox[0].subject == "From Someone else"
