"""Builders for the dashboard tests: leads, invoices and money at known local times.

Rows are written the way the services leave them (a lead through `lead_capture`, numbers through
`invoice_issue`, one ledger entry per movement), with `time-machine` setting every `created_at`,
`issued_at` and `opened_at` to the moment given.
"""

import itertools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import time_machine

from wetech.models import (
    Client,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    PaymentAttempt,
    Refund,
    ReviewCase,
    Service,
)
from wetech.sales.invoicing import invoice_issue
from wetech.sales.leads import lead_capture

DAR = ZoneInfo("Africa/Dar_es_Salaam")
_sequence = itertools.count(1)


def local(year, month, day, hour=12, minute=0) -> datetime:
    """A moment on the clock in Dar es Salaam (UTC+3)."""
    return datetime(year, month, day, hour, minute, tzinfo=DAR)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def catalogue() -> dict[str, Service]:
    """Website 1,500,000 (1,770,000 with VAT), hosting 450,000 (531,000), an app on request."""
    return {
        "website": Service.objects.create(
            name="Business website", slug="business-website", summary="-", price=Decimal(1500000)
        ),
        "hosting": Service.objects.create(
            name="Web hosting", slug="web-hosting", summary="-", price=Decimal(450000)
        ),
        "app": Service.objects.create(name="Mobile app", slug="mobile-app", summary="-"),
    }


def lead_at(moment: datetime, service: Service | None):
    """A lead sent at `moment` (and its invoice issued then, when the service has a price)."""
    number = next(_sequence)
    with at(moment):
        lead, invoice = lead_capture(
            name=f"Client {number}",
            email=f"client{number}@example.co.tz",
            phone="+255712345678",
            service=service,
            message="" if service else "A question",
        )
    return lead, invoice


def staff_invoice_at(moment: datetime, amount: Decimal, *, currency: str = "TZS") -> Invoice:
    """An invoice typed by staff in the admin (no lead, no VAT), issued at `moment`."""
    number = next(_sequence)
    client = Client.objects.create(
        name=f"Staff client {number}", email=f"staff{number}@example.co.tz", phone="+255700000000"
    )
    with at(moment):
        invoice = Invoice.objects.create(
            client=client,
            client_name=client.name,
            client_email=client.email,
            client_phone=client.phone,
            currency=currency,
        )
        InvoiceLine.objects.create(invoice=invoice, description="Work", unit_price=amount)
        return invoice_issue(invoice=invoice)


def set_status(invoice: Invoice, status: str, paid_at: datetime | None = None) -> Invoice:
    invoice.status = status
    invoice.paid_at = paid_at
    invoice.save(update_fields=["status", "paid_at", "updated_at"])
    return invoice


def payment_at(
    moment: datetime, invoice: Invoice, gateway: str, amount: Decimal | None = None
) -> PaymentAttempt:
    """A completed payment attempt and its PAYMENT ledger entry, recorded at `moment`."""
    amount = invoice.total if amount is None else amount
    reference = f"{invoice.number}-{next(_sequence):08X}"
    with at(moment):
        attempt = PaymentAttempt.objects.create(
            invoice=invoice,
            gateway=gateway,
            merchant_reference=reference,
            gateway_reference=f"GW-{reference}",
            amount=amount,
            currency=invoice.currency,
            status=PaymentAttempt.Status.COMPLETED,
            completed_at=moment,
        )
        ledger_at(moment, attempt, LedgerEntry.Kind.PAYMENT, amount, attempt.gateway_reference)
    return attempt


def ledger_at(moment, attempt, kind, amount, reference) -> LedgerEntry:
    with at(moment):
        return LedgerEntry.objects.create(
            invoice_id=attempt.invoice_id,
            attempt=attempt,
            kind=kind,
            amount=amount,
            currency=attempt.currency,
            gateway=attempt.gateway,
            gateway_reference=reference,
        )


def reversal_at(moment: datetime, attempt: PaymentAttempt) -> LedgerEntry:
    """A chargeback of the whole payment."""
    return ledger_at(
        moment, attempt, LedgerEntry.Kind.REVERSAL, attempt.amount, attempt.gateway_reference
    )


def refund_requested_at(moment: datetime, attempt: PaymentAttempt, amount: Decimal) -> Refund:
    with at(moment):
        return Refund.objects.create(
            invoice_id=attempt.invoice_id,
            attempt=attempt,
            reference=f"RF-{next(_sequence):06d}",
            amount=amount,
            currency=attempt.currency,
            method=Refund.Method.GATEWAY,
            reason="Customer asked",
            requested_by="finance",
        )


def refund_completed_at(
    requested: datetime, completed: datetime, attempt: PaymentAttempt, amount: Decimal
) -> Refund:
    """A refund requested, then confirmed: its REFUND ledger entry is keyed by its reference."""
    refund = refund_requested_at(requested, attempt, amount)
    ledger_at(completed, attempt, LedgerEntry.Kind.REFUND, amount, refund.reference)
    refund.status = Refund.Status.COMPLETED
    refund.completed_at = completed
    refund.save(update_fields=["status", "completed_at", "updated_at"])
    return refund


def review_case_at(moment: datetime, attempt: PaymentAttempt, *, status="open") -> ReviewCase:
    with at(moment):
        return ReviewCase.objects.create(
            invoice_id=attempt.invoice_id,
            attempt=attempt,
            kind=ReviewCase.Kind.MISMATCH,
            status=status,
            summary=f"Paid {attempt.amount} instead of the invoice total",
        )


NOW = local(2026, 3, 18, 10, 0)
PAID = Invoice.Status.PAID


@dataclass
class Book:
    services: dict
    invoices: dict
    attempts: dict
    open_case: ReviewCase
    refund_in_flight: object


def build_book() -> Book:
    """The book the dashboard tests check their figures against.

    Now (`NOW`) is Wednesday 18 March 2026, 10:00 in Dar es Salaam. Services: website 1,770,000
    with VAT, hosting 531,000, an app priced on request. Every time is local:

    lead sent              service  invoice         money (ledger)
    L1   Mon 16 Mar 09:00  website  paid            Pesapal 1,770,000 on 17 Mar; a refund of
                                                    270,000 completed 18 Mar 09:00
    L2   Tue 17 Mar        website  issued, unpaid
    L3   Sun 15 Mar 23:30  hosting  paid            AzamPay 531,000 on 16 Mar 08:00; a refund of
                                                    100,000 requested 17 Mar (in flight)
    L4   Tue 10 Mar        (none)   -
    L5   Mon  2 Feb        app      - (priced on request)
    L6   Tue  3 Feb        hosting  issued, unpaid
    L7   Sun 28 Dec 2025   website  issued, unpaid  (a day before the funnel's 12 weeks)
    L8   Wed 25 Feb        website  needs_review    AzamPay 1,000,000 on 25 Feb (short; its
                                                    review case is open)
    L9   Mon  5 Jan        website  issued again    Pesapal 1,770,000 on 6 Jan, charged back
                                                    on 10 Feb
    L10  Mon 10 Nov 2025   hosting  refunded        AzamPay 531,000 on 12 Nov 2025; refunded
                                                    1 Mar 00:30 (28 Feb in UTC)
    L11  Fri 20 Mar 2025   hosting  paid            AzamPay 531,000 on 31 Mar 2025 23:30
                                                    (1 April in UTC; before the 12 months)
    S1   staff invoice, 200,000, paid               Pesapal 200,000 on 2 Mar
    S2   staff invoice, USD 100, paid               Pesapal USD 100 on 3 Mar
    S3   staff invoice, USD 50, issued 1 Mar, unpaid
    B1   staff invoice, 100,000, issued 11 Mar 23:59 (7 days old)
    B2   staff invoice, 100,000, issued 10 Mar 23:59 (8 days old)
    B3   staff invoice, 100,000, issued 17 Jan 00:30 (60 days old; 16 Jan in UTC)
    V1   staff invoice, 100,000, issued then void
    """
    services = catalogue()
    website, hosting = services["website"], services["hosting"]
    invoices, attempts = {}, {}

    _, invoices["L1"] = lead_at(local(2026, 3, 16, 9, 0), website)
    attempts["L1"] = payment_at(local(2026, 3, 17), invoices["L1"], "pesapal")
    set_status(invoices["L1"], PAID, local(2026, 3, 17))
    refund_completed_at(
        local(2026, 3, 17, 15), local(2026, 3, 18, 9), attempts["L1"], Decimal(270000)
    )

    _, invoices["L2"] = lead_at(local(2026, 3, 17), website)

    _, invoices["L3"] = lead_at(local(2026, 3, 15, 23, 30), hosting)
    attempts["L3"] = payment_at(local(2026, 3, 16, 8, 0), invoices["L3"], "azampay")
    set_status(invoices["L3"], PAID, local(2026, 3, 16, 8, 0))
    refund_in_flight = refund_requested_at(local(2026, 3, 17), attempts["L3"], Decimal(100000))

    lead_at(local(2026, 3, 10), None)
    lead_at(local(2026, 2, 2), services["app"])
    _, invoices["L6"] = lead_at(local(2026, 2, 3), hosting)
    _, invoices["L7"] = lead_at(local(2025, 12, 28), website)

    _, invoices["L8"] = lead_at(local(2026, 2, 25, 9), website)
    attempts["L8"] = payment_at(local(2026, 2, 25, 10), invoices["L8"], "azampay", Decimal(1000000))
    set_status(invoices["L8"], Invoice.Status.NEEDS_REVIEW)
    open_case = review_case_at(local(2026, 2, 25, 10), attempts["L8"])

    _, invoices["L9"] = lead_at(local(2026, 1, 5), website)
    attempts["L9"] = payment_at(local(2026, 1, 6), invoices["L9"], "pesapal")
    reversal_at(local(2026, 2, 10), attempts["L9"])

    _, invoices["L10"] = lead_at(local(2025, 11, 10), hosting)
    attempts["L10"] = payment_at(local(2025, 11, 12), invoices["L10"], "azampay")
    refund_completed_at(
        local(2026, 2, 27), local(2026, 3, 1, 0, 30), attempts["L10"], Decimal(531000)
    )
    set_status(invoices["L10"], Invoice.Status.REFUNDED)
    # A case on L10 that staff resolved: not open, not counted.
    review_case_at(local(2026, 2, 26), attempts["L10"], status=ReviewCase.Status.RESOLVED)

    _, invoices["L11"] = lead_at(local(2025, 3, 20), hosting)
    attempts["L11"] = payment_at(local(2025, 3, 31, 23, 30), invoices["L11"], "azampay")
    set_status(invoices["L11"], PAID, local(2025, 3, 31, 23, 30))

    invoices["S1"] = staff_invoice_at(local(2026, 3, 1), Decimal(200000))
    payment_at(local(2026, 3, 2), invoices["S1"], "pesapal")
    set_status(invoices["S1"], PAID, local(2026, 3, 2))
    invoices["S2"] = staff_invoice_at(local(2026, 3, 3), Decimal(100), currency="USD")
    payment_at(local(2026, 3, 3), invoices["S2"], "pesapal")
    set_status(invoices["S2"], PAID, local(2026, 3, 3))
    invoices["S3"] = staff_invoice_at(local(2026, 3, 1), Decimal(50), currency="USD")

    invoices["B1"] = staff_invoice_at(local(2026, 3, 11, 23, 59), Decimal(100000))
    invoices["B2"] = staff_invoice_at(local(2026, 3, 10, 23, 59), Decimal(100000))
    invoices["B3"] = staff_invoice_at(local(2026, 1, 17, 0, 30), Decimal(100000))
    invoices["V1"] = staff_invoice_at(local(2026, 3, 5), Decimal(100000))
    set_status(invoices["V1"], Invoice.Status.VOID)
    return Book(services, invoices, attempts, open_case, refund_in_flight)
