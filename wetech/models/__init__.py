from wetech.models.catalog import Service
from wetech.models.invoices import Invoice, InvoiceCounter, InvoiceLine, InvoiceLocked
from wetech.models.leads import Client, Lead
from wetech.models.payments import GatewayNotification, LedgerEntry, PaymentAttempt

__all__ = [
    "Client",
    "GatewayNotification",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLine",
    "InvoiceLocked",
    "Lead",
    "LedgerEntry",
    "PaymentAttempt",
    "Service",
]
