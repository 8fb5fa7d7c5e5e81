"""Turn the flags of before review cases existed into open review cases (issue 12).

An attempt in `needs_review` (a completion that did not match) gets a mismatch case; one flagged
`needs_refund` (money on an invoice already paid, or void) a paid_twice or void_invoice case.
Each is opened once (an open case of that kind is left as it is) and written to the audit trail
as opened by the system. An issued invoice with a case now open shows `needs_review`, the state
the ledger rule gives it.

The old flags kept only words, not the gateway's amount: accepting such a mismatch asks staff
for the amount that really arrived.
"""

from django.db import migrations

SYSTEM = "system"


def _case(attempt, kind):
    if kind == "mismatch":
        summary = attempt.status_detail or f"{attempt.merchant_reference} did not match"
    else:
        summary = (
            f"{attempt.amount} {attempt.currency} by {attempt.merchant_reference} on "
            f"{'void' if kind == 'void_invoice' else 'paid'} invoice {attempt.invoice.number}"
        )
    return {
        "summary": summary[:255],
        "gateway_said": {
            "status": attempt.status,
            "confirmation_code": attempt.confirmation_code,
            "payment_method": attempt.payment_method,
            "gateway_reference": attempt.gateway_reference,
            "detail": attempt.status_detail,
        },
        "expected": {
            "amount": f"{attempt.amount:.2f}",
            "currency": attempt.currency,
            "merchant_reference": attempt.merchant_reference,
            "gateway_reference": attempt.gateway_reference,
        },
    }


def cases_from_flags(apps, schema_editor):
    PaymentAttempt = apps.get_model("wetech", "PaymentAttempt")
    ReviewCase = apps.get_model("wetech", "ReviewCase")
    AuditEntry = apps.get_model("wetech", "AuditEntry")
    Invoice = apps.get_model("wetech", "Invoice")
    flagged = (
        PaymentAttempt.objects.filter(status="needs_review")
        | PaymentAttempt.objects.filter(needs_refund=True)
    ).select_related("invoice")
    in_review = set()
    for attempt in flagged.order_by("pk"):
        kinds = []
        if attempt.status == "needs_review":
            kinds.append("mismatch")
        if attempt.needs_refund:
            kinds.append("void_invoice" if attempt.invoice.status == "void" else "paid_twice")
        for kind in kinds:
            if ReviewCase.objects.filter(attempt=attempt, kind=kind, status="open").exists():
                continue
            case = ReviewCase.objects.create(
                invoice_id=attempt.invoice_id, attempt=attempt, kind=kind, **_case(attempt, kind)
            )
            AuditEntry.objects.create(
                actor=SYSTEM,
                action="review_opened",
                invoice_id=attempt.invoice_id,
                attempt=attempt,
                reason=case.summary,
                data={"case": case.pk, "kind": kind, "from": "flag set before review cases"},
            )
            in_review.add(attempt.invoice_id)
    Invoice.objects.filter(pk__in=in_review, status="issued").update(status="needs_review")


class Migration(migrations.Migration):
    dependencies = [
        ("wetech", "0006_outbox"),
    ]

    operations = [
        # Going back leaves the cases: they are records, and the flags are still there.
        migrations.RunPython(cases_from_flags, migrations.RunPython.noop),
    ]
