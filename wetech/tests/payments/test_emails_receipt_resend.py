"""Sending a receipt again (payments/emails.py): the customer's receipt, once, after commit, and
an `email_resent` entry in the audit trail; never for a payment that did not complete."""

import pytest
from django.contrib.auth import get_user_model

from wetech.models import AuditEntry, PaymentAttempt
from wetech.payments.emails import ReceiptNotAllowed, receipt_email_resend
from wetech.tests.backoffice_helpers import completed_attempt
from wetech.tests.email_helpers import outbox_deliver
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db


def test_the_receipt_goes_to_the_customer_again_and_is_recorded(
    settings, django_capture_on_commit_callbacks, mailoutbox
):
    settings.STAFF_EMAILS = ["accounts@wetech.co.tz"]
    user = get_user_model().objects.create_user("neema", "neema@wetech.co.tz", "pw-123456789")
    attempt = completed_attempt(issued_invoice())

    with django_capture_on_commit_callbacks(execute=True):
        entry = receipt_email_resend(
            attempt=attempt, reason="Asked for a copy", actor="neema", user=user
        )

    [email] = outbox_deliver()
    assert email.to == ["asha@example.co.tz"]
    assert email.subject == f"Receipt: invoice {attempt.invoice.number} paid, TZS 413,000"
    assert attempt.merchant_reference in email.body
    assert f"{'Confirmation code:':22}CONFC1" in email.body
    assert (entry.action, entry.actor, entry.actor_user, entry.invoice, entry.attempt) == (
        AuditEntry.Action.EMAIL_RESENT,
        "neema",
        user,
        attempt.invoice,
        attempt,
    )
    assert entry.reason == "Asked for a copy"
    assert entry.data == {"email": "receipt", "to": "customer"}


@pytest.mark.parametrize("status", ["pending", "failed", "reversed", "needs_review"])
def test_no_receipt_for_a_payment_that_did_not_complete(
    status, django_capture_on_commit_callbacks, mailoutbox
):
    attempt = completed_attempt(issued_invoice())
    PaymentAttempt.objects.filter(pk=attempt.pk).update(status=status)

    with (
        pytest.raises(ReceiptNotAllowed, match="only a completed payment has a receipt"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        receipt_email_resend(attempt=attempt, reason="copy", actor="neema")

    assert outbox_deliver() == []
    assert not AuditEntry.objects.exists()
