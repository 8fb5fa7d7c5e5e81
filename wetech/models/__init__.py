from wetech.models.audit import AuditEntry, AuditEntryLocked
from wetech.models.catalog import Service
from wetech.models.invoices import Invoice, InvoiceCounter, InvoiceLine, InvoiceLocked
from wetech.models.leads import Client, Lead
from wetech.models.outbox import OutgoingEmail, WorkerHeartbeat
from wetech.models.payments import GatewayNotification, LedgerEntry, PaymentAttempt
from wetech.models.refunds import CreditNote, CreditNoteCounter, Refund
from wetech.models.review import ReviewCase
from wetech.models.schedule import ScheduledRun

__all__ = [
    "AuditEntry",
    "AuditEntryLocked",
    "Client",
    "CreditNote",
    "CreditNoteCounter",
    "GatewayNotification",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLine",
    "InvoiceLocked",
    "Lead",
    "LedgerEntry",
    "OutgoingEmail",
    "PaymentAttempt",
    "Refund",
    "ReviewCase",
    "ScheduledRun",
    "Service",
    "WorkerHeartbeat",
]
