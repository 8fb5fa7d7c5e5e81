"""Staff actions on invoices (sales/invoicing.py): issue one typed by staff for a lead priced on
request, void an unpaid invoice, send the invoice email again; each in the audit trail."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import override_settings

from wetech.models import AuditEntry, Invoice, InvoiceLine, LedgerEntry, PaymentAttempt
from wetech.sales.invoicing import (
    InvoiceActionNotAllowed,
    InvoiceLineInput,
    invoice_email_resend,
    invoice_issue_for_lead,
    invoice_void,
)
from wetech.sales.leads import lead_capture
from wetech.tests.email_helpers import outbox_deliver
from wetech.tests.lead_helpers import make_service
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db

LINES = [
    InvoiceLineInput(
        description="Custom CRM: design", quantity=Decimal("1"), unit_price=Decimal("1200000")
    ),
    InvoiceLineInput(
        description="Training day", quantity=Decimal("2.5"), unit_price=Decimal("150000.50")
    ),
]


@pytest.fixture
def staff_user():
    return get_user_model().objects.create_user("neema", "neema@wetech.co.tz", "pw-123456789")


def on_request_lead(
    *, email="juma@example.co.tz", slug="custom-software", language="en", **service
):
    lead, invoice = lead_capture(
        name="Juma Said",
        email=email,
        phone="+255754000111",
        company="Said Logistics",
        service=make_service(name="Custom software", slug=slug, price=None, **service),
        language=language,
    )
    assert invoice is None
    return lead


def attempt_for(invoice, *, status, reference="", gateway="pesapal", suffix="A1"):
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway=gateway,
        merchant_reference=f"{invoice.number}-{suffix}",
        gateway_reference=reference,
        amount=invoice.total,
        currency=invoice.currency,
        status=status,
    )


class TestIssueForLead:
    def test_issues_the_typed_lines_with_the_next_number_and_vat_and_emails_the_customer(
        self, staff_user, django_capture_on_commit_callbacks, mailoutbox
    ):
        lead = on_request_lead()
        lead.tin = "123456789"
        lead.save(update_fields=["tin"])
        with time_machine.travel(datetime(2026, 5, 4, 8, 0, tzinfo=UTC), tick=False):
            first = issued_invoice()
            with (
                override_settings(INVOICE_TAX_RATE=Decimal("0.18")),
                django_capture_on_commit_callbacks(execute=True),
            ):
                invoice = invoice_issue_for_lead(
                    lead=lead,
                    lines=LINES,
                    reason="Quote agreed by phone on 3 May",
                    actor="neema",
                    user=staff_user,
                )

        assert first.number == "WT-2026-00001"
        assert invoice.number == "WT-2026-00002"
        assert invoice.status == Invoice.Status.ISSUED
        assert invoice.lead == lead
        assert (invoice.client_name, invoice.client_email, invoice.client_company) == (
            "Juma Said",
            "juma@example.co.tz",
            "Said Logistics",
        )
        assert invoice.client_tin == "123456789"
        lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
        assert [(line.position, line.description, line.amount) for line in lines] == [
            (1, "Custom CRM: design", Decimal("1200000.00")),
            (2, "Training day", Decimal("375001.25")),
        ]
        assert invoice.subtotal == Decimal("1575001.25")
        assert invoice.tax_rate == Decimal("0.18")
        assert invoice.tax == Decimal("283500.23")
        assert invoice.total == Decimal("1858501.48")

        # The lead's own emails (acknowledgement, staff) were queued when it arrived.
        [email] = [m for m in outbox_deliver() if m.subject == "Your WeTech invoice WT-2026-00002"]
        assert email.to == ["juma@example.co.tz"]
        assert f"/invoices/{invoice.token}/" in email.body
        assert "TZS 1,858,501.48" in email.body

        entry = AuditEntry.objects.get()
        assert (entry.action, entry.actor, entry.actor_user, entry.invoice) == (
            AuditEntry.Action.INVOICE_ISSUED,
            "neema",
            staff_user,
            invoice,
        )
        assert entry.reason == "Quote agreed by phone on 3 May"
        assert entry.data == {
            "lead": lead.pk,
            "lines": 2,
            "total": "1858501.48",
            "currency": "TZS",
        }

    def test_a_kiswahili_customers_invoice_and_its_email_are_in_kiswahili(
        self, staff_user, django_capture_on_commit_callbacks
    ):
        lead = on_request_lead(language="sw")
        with django_capture_on_commit_callbacks(execute=True):
            invoice = invoice_issue_for_lead(
                lead=lead, lines=LINES, reason="Bei imekubaliwa", actor="neema", user=staff_user
            )

        assert invoice.language == "sw"
        [email] = [m for m in outbox_deliver() if invoice.number in m.subject]
        assert email.subject == f"Ankara yako ya WeTech {invoice.number}"
        assert f"/sw/invoices/{invoice.token}/" in email.body

    @pytest.mark.parametrize(
        ("case", "message"),
        [
            ("priced", "has a price"),
            ("general", "general enquiry"),
            ("invoiced", "already has invoice WT-"),
            ("nothing", "add up to nothing"),
        ],
    )
    def test_refuses_what_it_must_not_issue_and_writes_nothing(
        self, case, message, django_capture_on_commit_callbacks, mailoutbox
    ):
        lines = LINES
        if case == "priced":
            lead, invoice = lead_capture(
                name="Asha",
                email="asha@example.co.tz",
                phone="+255712345678",
                service=make_service(),
            )
            Invoice.objects.filter(pk=invoice.pk).delete()
        elif case == "general":
            lead, _ = lead_capture(
                name="Asha", email="asha@example.co.tz", phone="+255712345678", message="Hi"
            )
        else:
            lead = on_request_lead()
            if case == "invoiced":
                invoice_issue_for_lead(lead=lead, lines=LINES, reason="first", actor="neema")
            else:
                lines = [InvoiceLineInput("Waived", Decimal("1"), Decimal("0"))]
        invoices_before = Invoice.objects.count()
        entries_before = AuditEntry.objects.count()
        outbox_deliver()
        mailoutbox.clear()

        with (
            pytest.raises(InvoiceActionNotAllowed, match=message),
            django_capture_on_commit_callbacks(execute=True),
        ):
            invoice_issue_for_lead(lead=lead, lines=lines, reason="again", actor="neema")

        assert Invoice.objects.count() == invoices_before
        assert AuditEntry.objects.count() == entries_before
        assert outbox_deliver() == []


class TestVoid:
    def test_voids_an_unpaid_invoice_and_closes_its_open_attempts(self, staff_user):
        invoice = issued_invoice()
        pending = attempt_for(invoice, status="pending", reference="track-1", suffix="P1")
        initiated = attempt_for(invoice, status="initiated", gateway="azampay", suffix="A1")
        failed = attempt_for(invoice, status="failed", reference="track-0", suffix="F0")

        voided = invoice_void(
            invoice=invoice, reason="Customer cancelled the order", actor="neema", user=staff_user
        )

        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.VOID
        assert voided.invoice.status == Invoice.Status.VOID
        assert [a.merchant_reference for a in voided.closed_attempts] == [
            pending.merchant_reference,
            initiated.merchant_reference,
        ]
        for attempt in (pending, initiated):
            attempt.refresh_from_db()
            assert (attempt.status, attempt.status_detail) == ("expired", "Invoice voided")
        failed.refresh_from_db()
        assert failed.status == "failed"
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.actor, entry.actor_user, entry.invoice) == (
            AuditEntry.Action.INVOICE_VOIDED,
            "neema",
            staff_user,
            invoice,
        )
        assert entry.reason == "Customer cancelled the order"
        assert entry.data == {
            "previous_status": "issued",
            "closed_attempts": [pending.merchant_reference, initiated.merchant_reference],
        }

    @pytest.mark.parametrize("status", ["paid", "refunded", "void", "needs_review"])
    def test_refuses_an_invoice_that_is_not_unpaid(self, status):
        invoice = issued_invoice()
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
        pending = attempt_for(invoice, status="pending", reference="track-1")

        with pytest.raises(InvoiceActionNotAllowed, match="only an unpaid issued invoice"):
            invoice_void(invoice=invoice, reason="why not", actor="neema")

        invoice.refresh_from_db()
        pending.refresh_from_db()
        assert invoice.status == status
        assert pending.status == "pending"
        assert not AuditEntry.objects.exists()

    def test_refuses_a_draft(self):
        invoice = issued_invoice()
        draft = Invoice.objects.create(
            client=invoice.client,
            client_name="Asha",
            client_email="a@example.co.tz",
            client_phone="+255712345678",
        )
        with pytest.raises(InvoiceActionNotAllowed, match=r"\(draft\) is draft"):
            invoice_void(invoice=draft, reason="no", actor="neema")

    def test_refuses_an_invoice_holding_a_part_payment(self):
        invoice = issued_invoice()
        part = attempt_for(invoice, status="completed", reference="track-9")
        LedgerEntry.objects.create(
            invoice=invoice,
            attempt=part,
            kind="payment",
            amount=Decimal("100000"),
            currency="TZS",
            gateway="pesapal",
            gateway_reference="track-9",
        )

        with pytest.raises(InvoiceActionNotAllowed, match=r"holds 100000\.00 TZS"):
            invoice_void(invoice=invoice, reason="no", actor="neema")

        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.ISSUED
        assert not AuditEntry.objects.exists()


class TestInvoiceEmailResend:
    def test_sends_the_invoice_again_and_records_it(
        self, staff_user, django_capture_on_commit_callbacks, mailoutbox
    ):
        invoice = issued_invoice()
        with django_capture_on_commit_callbacks(execute=True):
            entry = invoice_email_resend(
                invoice=invoice, reason="Customer lost the email", actor="neema", user=staff_user
            )

        [email] = outbox_deliver()
        assert email.to == ["asha@example.co.tz"]
        assert email.subject == f"Your WeTech invoice {invoice.number}"
        assert f"/invoices/{invoice.token}/" in email.body
        assert (entry.action, entry.invoice, entry.attempt, entry.reason) == (
            AuditEntry.Action.EMAIL_RESENT,
            invoice,
            None,
            "Customer lost the email",
        )
        assert entry.data == {"email": "invoice", "to": "customer"}

    def test_a_void_invoice_is_not_sent(self, django_capture_on_commit_callbacks, mailoutbox):
        invoice = issued_invoice()
        invoice_void(invoice=invoice, reason="cancelled", actor="neema")
        with (
            pytest.raises(InvoiceActionNotAllowed, match="void"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            invoice_email_resend(invoice=invoice, reason="again", actor="neema")
        assert outbox_deliver() == []
        assert AuditEntry.objects.filter(action=AuditEntry.Action.EMAIL_RESENT).count() == 0
