from wetech.models.catalog import Service
from wetech.models.invoices import Invoice, InvoiceCounter, InvoiceLine, InvoiceLocked
from wetech.models.leads import Client, Lead

__all__ = [
    "Client",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLine",
    "InvoiceLocked",
    "Lead",
    "Service",
]
