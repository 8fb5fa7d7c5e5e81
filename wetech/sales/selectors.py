"""Reads about invoices: what the public pages, the status JSON and settlement need to know.

Selectors only read (services in `invoicing.py` and `leads.py` write). They read the payment
attempts and the ledger through the models, never through `wetech.payments`: sales sits below
payments, which builds on it.
"""

from decimal import Decimal

from wetech.models import Invoice
from wetech.money import quantize


def invoice_net_paid(invoice: Invoice) -> Decimal:
    """What the ledger holds for the invoice: payments minus reversals and refunds, in the
    invoice's currency (entries in another currency do not count). One query."""
    net = (
        Invoice.objects.with_ledger_net()
        .filter(pk=invoice.pk)
        .values_list("ledger_net", flat=True)
        .get()
    )
    return quantize(net)
