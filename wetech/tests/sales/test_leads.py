from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError
from django.test import override_settings
from huey.contrib.djhuey import HUEY

from wetech.models import Client, Invoice, InvoiceCounter, Lead, OutgoingEmail
from wetech.sales import leads as leads_service
from wetech.sales.leads import client_get_or_create, lead_capture
from wetech.tests.email_helpers import outbox_deliver
from wetech.tests.lead_helpers import make_service

pytestmark = pytest.mark.django_db

PERSON = {"name": "Asha Mwinyi", "email": "asha@example.co.tz", "phone": "+255712345678"}


def test_priced_service_gives_an_issued_invoice_with_a_client_snapshot():
    service = make_service(price=Decimal("350000"))
    lead, invoice = lead_capture(**PERSON, company="Mwinyi Traders", service=service)
    assert lead.client.email == "asha@example.co.tz"
    assert invoice.status == Invoice.Status.ISSUED
    assert invoice.lead == lead
    assert (invoice.client_name, invoice.client_email, invoice.client_phone) == (
        "Asha Mwinyi",
        "asha@example.co.tz",
        "+255712345678",
    )
    assert invoice.client_company == "Mwinyi Traders"
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("350000.00"),
        Decimal("63000.00"),
        Decimal("413000.00"),
    )
    assert invoice.lines.get().description == "Business website"


def test_the_buyers_tin_is_kept_on_the_lead_and_snapshotted_into_the_invoice():
    lead, invoice = lead_capture(**PERSON, tin="123456789", service=make_service())
    lead.refresh_from_db()
    invoice.refresh_from_db()
    assert (lead.tin, invoice.client_tin) == ("123456789", "123456789")


def test_unpriced_service_or_general_enquiry_gives_no_invoice():
    _, invoice = lead_capture(**PERSON, service=make_service(price=None), message="Quote?")
    assert invoice is None
    _, invoice = lead_capture(**PERSON, message="Hello")
    assert invoice is None
    assert Invoice.objects.count() == 0
    assert Lead.objects.count() == 2


def test_returning_client_is_found_by_email_or_phone_never_fuzzily():
    first, _ = lead_capture(**PERSON, message="one")
    by_email, _ = lead_capture(
        name="Asha M", email="asha@example.co.tz", phone="+255754000111", message="two"
    )
    by_phone, _ = lead_capture(
        name="Asha", email="asha.work@example.co.tz", phone="+255712345678", message="three"
    )
    lookalike, _ = lead_capture(
        name="Asha Mwinyi", email="asha@example.com", phone="+255754999888", message="four"
    )
    assert by_email.client == first.client
    assert by_phone.client == first.client
    assert lookalike.client != first.client
    assert Client.objects.count() == 2
    # The lead keeps what was typed this time.
    assert by_phone.email == "asha.work@example.co.tz"


def test_marketing_consent_records_time_and_ip():
    lead, _ = lead_capture(**PERSON, message="x", marketing_consent=True, ip_address="198.51.100.7")
    assert lead.consent_at is not None
    assert lead.consent_ip == "198.51.100.7"
    lead, _ = lead_capture(**PERSON, message="x", ip_address="198.51.100.7")
    assert (lead.consent_at, lead.consent_ip) == (None, None)


def test_a_failure_at_the_last_step_rolls_everything_back():
    service = make_service()
    with (
        mock.patch.object(leads_service, "lead_emails_schedule", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        lead_capture(**PERSON, service=service)
    assert Client.objects.count() == 0
    assert Lead.objects.count() == 0
    assert Invoice.objects.count() == 0
    assert OutgoingEmail.objects.count() == 0


def test_a_failure_after_numbering_gives_the_number_back():
    service = make_service()
    issue = leads_service.invoice_issue_new

    def issue_then_fail(*, invoice):
        issued = issue(invoice=invoice)
        assert issued.number.endswith("-00001")
        raise IntegrityError("simulated failure right after the invoice was numbered")

    with (
        mock.patch.object(leads_service, "invoice_issue_new", side_effect=issue_then_fail),
        pytest.raises(IntegrityError),
    ):
        lead_capture(**PERSON, service=service)
    assert not InvoiceCounter.objects.filter(last_number__gt=0).exists()
    assert Lead.objects.count() == 0
    _, invoice = lead_capture(**PERSON, service=service)
    assert invoice.number.endswith("-00001")


@override_settings(STAFF_EMAILS=["sales@wetech.co.tz", "ops@wetech.co.tz"])
def test_emails_are_queued_with_the_lead_and_handed_to_the_worker_on_commit(
    django_capture_on_commit_callbacks, mailoutbox
):
    service = make_service()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        lead, invoice = lead_capture(**PERSON, service=service)
        # Inside the transaction: the rows are there, nothing is sent or queued for the worker.
        queued = list(OutgoingEmail.objects.order_by("pk"))
        assert HUEY.pending_count() == 0
    assert mailoutbox == []
    assert [(e.template, e.to, e.reason, e.status) for e in queued] == [
        ("lead_staff", ["sales@wetech.co.tz", "ops@wetech.co.tz"], f"lead {lead.pk}", "pending"),
        ("lead_acknowledgement", ["asha@example.co.tz"], f"lead {lead.pk}", "pending"),
    ]
    # On commit, one task per email for the worker.
    assert len(callbacks) == 2
    assert sorted(task.args for task in HUEY.pending()) == [(e.pk,) for e in queued]

    staff, customer = outbox_deliver()

    assert [staff.extra_headers["Message-ID"], customer.extra_headers["Message-ID"]] == [
        e.message_id for e in queued
    ]
    assert staff.to == ["sales@wetech.co.tz", "ops@wetech.co.tz"]
    assert invoice.number in staff.subject
    assert customer.to == ["asha@example.co.tz"]
    assert f"http://127.0.0.1:8000/invoices/{invoice.token}/" in customer.body
    assert "TZS 413,000" in customer.body
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {"sent"}


def test_no_email_when_the_capture_rolls_back(django_capture_on_commit_callbacks, mailoutbox):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        mock.patch.object(leads_service, "lead_emails_schedule", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        lead_capture(**PERSON, service=make_service())
    assert callbacks == []
    assert not OutgoingEmail.objects.exists()
    assert HUEY.pending_count() == 0
    assert mailoutbox == []


def test_concurrent_insert_of_the_same_email_reuses_the_winner():
    winner = Client.objects.create(name="First", email="asha@example.co.tz", phone="+255700000001")
    # Simulate losing the race: our lookup saw nothing, then the insert hit the unique constraint.
    empty = Client.objects.none()
    with mock.patch.object(Client.objects, "filter", return_value=empty):
        client = client_get_or_create(
            name="Second", email="asha@example.co.tz", phone="+255700000002"
        )
    assert client == winner
    assert Client.objects.count() == 1
