"""The Sales group's staff actions in the admin, each on its own confirmation page: void an
unpaid invoice (its Pesapal order cancelled), issue an invoice for a lead priced on request,
send the invoice or receipt email again. And what the Finance group may not do of these."""

import json
from decimal import Decimal

import pytest
import responses

from wetech.models import AuditEntry, Invoice, PaymentAttempt
from wetech.sales.leads import lead_capture
from wetech.tests.backoffice_helpers import (
    PESAPAL_BASE,
    add_pesapal_cancel,
    add_pesapal_token,
    before_the_token_expires,
    completed_attempt,
    pesapal_over_http,
    staff_in,
)
from wetech.tests.email_helpers import outbox_deliver
from wetech.tests.lead_helpers import make_service
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(client):
    client.force_login(staff_in("Sales"))
    return client


@pytest.fixture
def finance(client):
    client.force_login(staff_in("Finance"))
    return client


def pending_pesapal(invoice, reference="c8b0e0fb-23f0-44dc-b79b-dd751b446913"):
    return PaymentAttempt.objects.create(
        invoice=invoice,
        gateway="pesapal",
        merchant_reference=f"{invoice.number}-P1",
        gateway_reference=reference,
        amount=invoice.total,
        currency=invoice.currency,
        status=PaymentAttempt.Status.PENDING,
    )


def on_request_lead():
    lead, _ = lead_capture(
        name="Juma Said",
        email="juma@example.co.tz",
        phone="+255754000111",
        company="Said Logistics",
        service=make_service(name="Custom software", slug="custom-software", price=None),
    )
    return lead


def page_text(response) -> str:
    return response.content.decode()


# --- void -------------------------------------------------------------------------------------


class TestVoid:
    def test_the_page_says_what_will_happen_before_anything_does(self, sales):
        invoice = issued_invoice()
        attempt = pending_pesapal(invoice)

        response = sales.get(f"/admin/wetech/invoice/{invoice.pk}/void/")

        html = page_text(response)
        assert response.status_code == 200
        assert f"Void invoice {invoice.number}" in html
        assert "What will happen" in html
        assert (
            f"{attempt.merchant_reference} (Pesapal, pending) is closed and its order cancelled"
            " at Pesapal." in html
        )
        assert 'name="reason"' in html
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.ISSUED

    def test_a_reason_is_required(self, sales):
        invoice = issued_invoice()

        response = sales.post(f"/admin/wetech/invoice/{invoice.pk}/void/", {"reason": "  "})

        assert response.status_code == 200
        assert "Say why: the reason is kept in the audit trail." in page_text(response)
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.ISSUED
        assert not AuditEntry.objects.exists()

    def test_voiding_cancels_the_pesapal_order_and_is_audited(self, sales, settings):
        pesapal_over_http(settings)
        with before_the_token_expires(), responses.RequestsMock() as http:
            invoice = issued_invoice()
            attempt = pending_pesapal(invoice)
            add_pesapal_token(http)
            add_pesapal_cancel(http, attempt.gateway_reference)

            response = sales.post(
                f"/admin/wetech/invoice/{invoice.pk}/void/",
                {"reason": "Customer ordered by mistake"},
                follow=True,
            )

            cancel = http.calls[-1].request
        assert response.redirect_chain == [(f"/admin/wetech/invoice/{invoice.pk}/change/", 302)]
        html = page_text(response)
        assert f"Invoice {invoice.number} is void." in html
        assert f"{attempt.merchant_reference}: order cancelled at Pesapal." in html
        assert (cancel.method, cancel.url) == (
            "POST",
            f"{PESAPAL_BASE}/api/Transactions/CancelOrder",
        )
        assert json.loads(cancel.body) == {"order_tracking_id": attempt.gateway_reference}
        invoice.refresh_from_db()
        attempt.refresh_from_db()
        assert invoice.status == Invoice.Status.VOID
        assert attempt.status == PaymentAttempt.Status.EXPIRED
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.actor, entry.reason) == (
            AuditEntry.Action.INVOICE_VOIDED,
            "sales",
            "Customer ordered by mistake",
        )
        # The trail shows on the invoice's page.
        assert "Customer ordered by mistake" in html

    def test_pesapal_refusing_to_cancel_is_shown_and_the_void_stands(self, sales, settings):
        pesapal_over_http(settings)
        with before_the_token_expires(), responses.RequestsMock() as http:
            invoice = issued_invoice()
            attempt = pending_pesapal(invoice)
            add_pesapal_token(http)
            add_pesapal_cancel(
                http, attempt.gateway_reference, body='{"status":"500","message":"Order paid"}'
            )
            response = sales.post(
                f"/admin/wetech/invoice/{invoice.pk}/void/", {"reason": "Duplicate"}, follow=True
            )

        assert (
            f"{attempt.merchant_reference}: Pesapal did not cancel the order (Order paid)."
            in page_text(response)
        )
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.VOID

    def test_a_paid_invoice_is_refused_on_the_page_and_by_the_service(self, sales):
        invoice = issued_invoice()
        completed_attempt(invoice)
        Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID)

        page = sales.get(f"/admin/wetech/invoice/{invoice.pk}/void/")
        posted = sales.post(f"/admin/wetech/invoice/{invoice.pk}/void/", {"reason": "try"})

        assert "Only an unpaid issued invoice can be voided; this one is paid." in page_text(page)
        assert 'name="reason"' not in page_text(page)
        assert posted.status_code == 200
        assert "this one is paid" in page_text(posted)
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        assert not AuditEntry.objects.exists()

    def test_finance_may_not_void(self, finance):
        invoice = issued_invoice()

        assert finance.get(f"/admin/wetech/invoice/{invoice.pk}/void/").status_code == 403
        posted = finance.post(f"/admin/wetech/invoice/{invoice.pk}/void/", {"reason": "no"})

        assert posted.status_code == 403
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.ISSUED
        assert not AuditEntry.objects.exists()


# --- the buttons each role sees ---------------------------------------------------------------


def test_sales_sees_void_and_resend_on_an_unpaid_invoice_but_no_refund(sales):
    invoice = issued_invoice()

    html = page_text(sales.get(f"/admin/wetech/invoice/{invoice.pk}/change/"))

    assert f'href="/admin/wetech/invoice/{invoice.pk}/void/"' in html
    assert f'href="/admin/wetech/invoice/{invoice.pk}/resend/"' in html
    assert "/refund/" not in html


def test_finance_sees_refund_for_each_completed_payment_and_no_invoice_action(finance):
    invoice = issued_invoice()
    attempt = completed_attempt(invoice)

    html = page_text(finance.get(f"/admin/wetech/invoice/{invoice.pk}/change/"))

    assert f'href="/admin/wetech/paymentattempt/{attempt.pk}/refund/"' in html
    assert f"Refund {attempt.merchant_reference}…" in html
    assert "/void/" not in html
    assert "/resend/" not in html


# --- issue for a lead priced on request ------------------------------------------------------


class TestIssue:
    def url(self, lead):
        return f"/admin/wetech/lead/{lead.pk}/issue-invoice/"

    def form(self, reason="Quote agreed by phone", **extra):
        data = {
            "lines-TOTAL_FORMS": "3",
            "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "1",
            "lines-MAX_NUM_FORMS": "30",
            "lines-0-description": "Custom CRM: design",
            "lines-0-quantity": "1",
            "lines-0-unit_price": "1200000",
            "lines-1-description": "Training day",
            "lines-1-quantity": "2",
            "lines-1-unit_price": "150000",
            "lines-2-description": "",
            "lines-2-quantity": "",
            "lines-2-unit_price": "",
            "reason": reason,
        }
        data.update(extra)
        return data

    def test_the_lead_page_offers_it_only_to_sales(self, client):
        lead = on_request_lead()
        client.force_login(staff_in("Sales"))
        sales_html = page_text(client.get(f"/admin/wetech/lead/{lead.pk}/change/"))
        client.force_login(staff_in("Finance"))
        finance_page = client.get(f"/admin/wetech/lead/{lead.pk}/change/")

        assert f'href="{self.url(lead)}"' in sales_html
        # Finance does not even see leads.
        assert finance_page.status_code == 403

    def test_the_page_shows_the_lead_and_what_will_happen(self, sales):
        lead = on_request_lead()

        response = sales.get(self.url(lead))

        html = page_text(response)
        assert response.status_code == 200
        assert "Juma Said (juma@example.co.tz, +255754000111)" in html
        assert "Custom software (priced on request)" in html
        assert "VAT at 18% is added to the lines" in html
        assert "juma@example.co.tz gets the invoice email" in html
        assert 'value="Custom software"' in html  # the first line starts as the service

    def test_preview_shows_the_totals_and_writes_nothing(self, sales):
        lead = on_request_lead()

        response = sales.post(self.url(lead), self.form(reason="", _preview="Preview totals"))

        html = page_text(response)
        assert response.status_code == 200
        assert "The invoice will say" in html
        assert "TZS 1,500,000" in html  # subtotal
        assert "TZS 270,000" in html  # VAT 18%
        assert "TZS 1,770,000" in html
        assert "Say why" not in html
        assert not Invoice.objects.exists()

    def test_issuing_numbers_it_sends_it_and_audits_it(
        self, sales, django_capture_on_commit_callbacks, mailoutbox
    ):
        lead = on_request_lead()

        with django_capture_on_commit_callbacks(execute=True):
            response = sales.post(self.url(lead), self.form(_confirm="Issue"), follow=True)

        invoice = Invoice.objects.get()
        assert response.redirect_chain == [(f"/admin/wetech/invoice/{invoice.pk}/change/", 302)]
        assert (
            f"Invoice {invoice.number} (TZS 1,770,000) issued and sent to juma@example.co.tz."
            in page_text(response)
        )
        assert invoice.status == Invoice.Status.ISSUED
        assert invoice.total == Decimal("1770000.00")
        assert [line.description for line in invoice.lines.order_by("position")] == [
            "Custom CRM: design",
            "Training day",
        ]
        # The lead's own emails (acknowledgement, staff) were queued when it arrived.
        [email] = [m for m in outbox_deliver() if invoice.number in m.subject]
        assert email.to == ["juma@example.co.tz"]
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.actor, entry.reason) == (
            AuditEntry.Action.INVOICE_ISSUED,
            "sales",
            "Quote agreed by phone",
        )

    def test_issuing_needs_a_reason_and_a_line(self, sales):
        lead = on_request_lead()
        no_reason = sales.post(self.url(lead), self.form(reason="", _confirm="Issue"))
        no_lines = sales.post(
            self.url(lead),
            self.form(
                **{
                    "lines-0-description": "",
                    "lines-0-quantity": "",
                    "lines-0-unit_price": "",
                    "lines-1-description": "",
                    "lines-1-quantity": "",
                    "lines-1-unit_price": "",
                    "_confirm": "Issue",
                }
            ),
        )

        assert "Say why" in page_text(no_reason)
        assert "This field is required." in page_text(no_lines)
        assert not Invoice.objects.exists()

    def test_a_priced_lead_is_refused(self, sales):
        lead, invoice = lead_capture(
            name="Asha", email="asha@example.co.tz", phone="+255712345678", service=make_service()
        )

        page = page_text(sales.get(self.url(lead)))

        assert f"This lead already has invoice {invoice.number}." in page
        assert 'name="_confirm"' not in page

    def test_finance_may_not_issue(self, finance):
        lead = on_request_lead()

        assert finance.get(self.url(lead)).status_code == 403
        assert finance.post(self.url(lead), self.form(_confirm="Issue")).status_code == 403
        assert not Invoice.objects.exists()


# --- resend ------------------------------------------------------------------------------------


class TestResend:
    def test_the_page_offers_the_invoice_and_each_receipt(self, sales):
        invoice = issued_invoice()
        attempt = completed_attempt(invoice)

        html = page_text(sales.get(f"/admin/wetech/invoice/{invoice.pk}/resend/"))

        assert f"The invoice {invoice.number} with its link" in html
        assert f"The receipt of {attempt.merchant_reference} (TZS 413,000, Pesapal)" in html

    @pytest.mark.parametrize("which", ["invoice", "receipt"])
    def test_sends_the_chosen_email_and_audits_it(
        self, sales, which, django_capture_on_commit_callbacks, mailoutbox
    ):
        invoice = issued_invoice()
        attempt = completed_attempt(invoice)
        choice = "invoice" if which == "invoice" else f"receipt-{attempt.pk}"

        with django_capture_on_commit_callbacks(execute=True):
            response = sales.post(
                f"/admin/wetech/invoice/{invoice.pk}/resend/",
                {"email": choice, "reason": "Customer asked"},
                follow=True,
            )

        [email] = outbox_deliver()
        assert email.to == ["asha@example.co.tz"]
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.actor, entry.reason) == (
            AuditEntry.Action.EMAIL_RESENT,
            "sales",
            "Customer asked",
        )
        if which == "invoice":
            assert email.subject == f"Your WeTech invoice {invoice.number}"
            assert entry.attempt is None
            assert f"The invoice email for {invoice.number} is on its way" in page_text(response)
        else:
            assert email.subject.startswith(f"Receipt: invoice {invoice.number} paid")
            assert entry.attempt == attempt
            assert f"The receipt of {attempt.merchant_reference} is on its way" in page_text(
                response
            )

    def test_finance_may_not_resend(self, finance, mailoutbox):
        invoice = issued_invoice()

        posted = finance.post(
            f"/admin/wetech/invoice/{invoice.pk}/resend/", {"email": "invoice", "reason": "x"}
        )

        assert posted.status_code == 403
        assert not AuditEntry.objects.exists()
