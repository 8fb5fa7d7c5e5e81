"""Drills: the outbox with a REAL worker (`manage.py worker` in a subprocess, on this test run's
database and queue: the embedded file on SQLite, Redis on the PostgreSQL pass) and a REAL SMTP
server (aiosmtpd on a loopback port). Emails are counted by Message-ID at the server.

a. The mail server is down while a lead is submitted and an invoice is paid (an IPN through the
   inbox, the fake gateway answering): once it is back, every email arrives exactly once, to the
   right people.
b. A worker is killed (SIGKILL) after it claimed an email and before the server accepted it (the
   server stalls on DATA): after the lease, the next worker sends it, once.
c. A worker is killed right after it marked an email sent: nothing is sent twice, even when the
   task comes round again.

Leases and backoff are short (worker settings through its environment), so each drill takes a
few seconds.
"""

import signal
import textwrap
import time
from collections import Counter
from decimal import Decimal

import pytest
from huey.contrib.djhuey import HUEY

from wetech.emails import email_send
from wetech.models import Client, Invoice, Lead, OutgoingEmail
from wetech.payments.gateways.base import PaymentStatus
from wetech.payments.start import payment_start
from wetech.tasks import email_deliver_task
from wetech.tests.lead_helpers import lead_post, make_service
from wetech.tests.smtp_sink import SmtpSink
from wetech.tests.worker_helpers import Worker, wait_until

pytestmark = [pytest.mark.slow_drill, pytest.mark.django_db(transaction=True)]

Status = OutgoingEmail.Status
CUSTOMER = "asha@example.co.tz"
STAFF = "accounts@wetech.co.tz"  # configure_gateways (the `fakes` fixture) sets STAFF_EMAILS


def _worker(tmp_path, sink, name="worker", argv=None, **env) -> Worker:
    settings = {
        "EMAIL_URL": sink.email_url,
        "EMAIL_RETRY_BASE_SECONDS": 0.2,
        "EMAIL_RETRY_MAX_SECONDS": 0.5,
        "EMAIL_MAX_ATTEMPTS": 200,
        "EMAIL_LEASE_SECONDS": 30,
        **env,
    }
    return Worker(tmp_path / f"{name}.log", argv=argv, **settings)


def _statuses() -> list[str]:
    return list(OutgoingEmail.objects.values_list("status", flat=True))


def test_a_mail_server_down_loses_nothing_and_duplicates_nothing(tmp_path, client, fakes):
    pesapal, _ = fakes
    sink = SmtpSink().start()
    sink.stop()  # the mail server goes down
    make_service(price=Decimal("350000"))

    with _worker(tmp_path, sink) as worker:
        # A visitor submits a lead for a priced service; the customer pays its invoice.
        response = client.post("/leads/", lead_post(client, "/services/business-website/"))
        assert response.status_code == 303
        invoice = Invoice.objects.get()
        attempt = payment_start(invoice=invoice, gateway="pesapal").attempt
        pesapal.answer(attempt, PaymentStatus.COMPLETED)
        ipn = client.get(f"/payments/pesapal/ipn/?OrderTrackingId={attempt.gateway_reference}")
        assert ipn.status_code == 200
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID

        emails = list(OutgoingEmail.objects.order_by("pk"))
        assert [e.template for e in emails] == [
            "lead_staff",
            "lead_acknowledgement",
            "receipt",
            "payment_staff",
        ]
        # The worker tries each while the server is down: each attempt fails and is kept.
        wait_until(
            lambda: all(
                e.attempts >= 2 and e.last_error for e in OutgoingEmail.objects.order_by("pk")
            ),
            timeout=30,
            message=f"the worker did not try every email:\n{worker.output}",
        )
        assert set(_statuses()) <= {Status.PENDING, Status.SENDING}
        assert sink.received == []

        sink.start()  # the mail server is back, on the same port
        wait_until(
            lambda: set(_statuses()) == {Status.SENT},
            timeout=30,
            message=f"not every email was sent:\n{worker.output}",
        )
        assert worker.stop() == 0  # lets a task under way finish before counting
    sink.stop()

    assert Counter(sink.message_ids()) == Counter(e.message_id for e in emails)
    assert max(Counter(sink.message_ids()).values()) == 1
    by_id = {message.message_id: message for message in sink.received}
    assert [(by_id[e.message_id].rcpt_tos, by_id[e.message_id].subject) for e in emails] == [
        (
            (STAFF,),
            f"New lead: Asha Mwinyi (Mwinyi Traders), Business website, invoice {invoice.number}",
        ),
        ((CUSTOMER,), f"Your WeTech invoice {invoice.number}"),
        ((CUSTOMER,), f"Receipt: invoice {invoice.number} paid, TZS 413,000"),
        ((STAFF,), f"Paid: invoice {invoice.number}, TZS 413,000 via Pesapal"),
    ]
    assert "ConnectionRefusedError" in worker.output  # each failed attempt was logged


def test_a_worker_killed_before_the_server_accepted_loses_nothing(tmp_path):
    lease = 2
    sink = SmtpSink().start()
    sink.stall_next.set()  # the server will hang on the next DATA
    email = email_send(template="lead_staff", to=[STAFF], context=_lead_context(), reason="drill b")

    first = _worker(tmp_path, sink, name="first", EMAIL_LEASE_SECONDS=lease).start()
    assert sink.stalled.wait(timeout=30), first.output
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.SENDING, 1)

    assert first.kill() == -signal.SIGKILL  # before the server accepted the message
    sink.go_on.set()  # the stalled DATA is refused: nothing was delivered
    assert sink.received == []
    # Its task went with the worker (only the schedule's tasks wait in the queue); the row
    # stays "sending" until its lease expires.
    assert [task for task in HUEY.pending() if task.args == (email.pk,)] == []
    time.sleep(lease + 0.5)

    # The next worker's schedule starts with the sweep, which finds the expired lease.
    with _worker(tmp_path, sink, name="second", EMAIL_LEASE_SECONDS=lease) as second:
        wait_until(lambda: _statuses() == [Status.SENT], timeout=30, message=second.output)
        assert second.stop() == 0
    sink.stop()

    email.refresh_from_db()
    assert email.attempts == 2
    assert sink.message_ids() == [email.message_id]
    assert "queued again by the sweep" in second.output


# Runs in the worker's process: the real worker, with its death added right after the sent mark.
KILLED_AFTER_THE_SENT_MARK = textwrap.dedent(
    """
    import os, signal
    from django.core.management import call_command
    from wetech import emails

    sent_mark = emails._sent_mark

    def killed(email):
        sent_mark(email)
        print("marked sent", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    emails._sent_mark = killed
    call_command("worker", "--workers", "1")
    """
)


def test_a_worker_killed_after_the_sent_mark_sends_nothing_twice(tmp_path):
    sink = SmtpSink().start()
    email = email_send(template="lead_staff", to=[STAFF], context=_lead_context(), reason="drill c")

    first = _worker(
        tmp_path, sink, name="first", argv=["shell", "-c", KILLED_AFTER_THE_SENT_MARK]
    ).start()
    wait_until(lambda: first.process.poll() is not None, timeout=30, message=first.output)
    assert first.process.returncode == -signal.SIGKILL
    assert "marked sent" in first.output
    email.refresh_from_db()
    assert email.status == Status.SENT
    assert sink.message_ids() == [email.message_id]

    # The task comes round again (as if the engine redelivered it), a lease later, to a new
    # worker whose schedule starts with the sweep.
    email_deliver_task(email.pk)
    time.sleep(1.5)
    with _worker(tmp_path, sink, name="second", EMAIL_LEASE_SECONDS=1) as second:
        wait_until(lambda: HUEY.pending_count() == 0, timeout=30, message=second.output)
        assert second.stop() == 0  # the tasks it took are finished
    sink.stop()

    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.SENT, 1)
    assert sink.message_ids() == [email.message_id]


def _lead_context() -> dict:
    """What lead_staff renders: a lead without an invoice."""
    client = Client.objects.create(name="Asha Mwinyi", email=CUSTOMER, phone="+255712345678")
    lead = Lead.objects.create(
        client=client, name="Asha Mwinyi", email=CUSTOMER, phone="+255712345678"
    )
    return {"lead": lead, "invoice": None, "admin_url": "http://testserver/admin/"}
