"""The outbox in unit tests: no worker runs there, so a test that wants the emails delivered does
what the worker's task does, in this process: `email_deliver` (the service the task calls) for
every email queued and due. Drills start a real worker instead (worker_helpers.py)."""

from django.core import mail

from wetech.emails import email_deliver
from wetech.models import OutgoingEmail


def outbox_deliver() -> list:
    """Deliver every pending email that is due, oldest first; the messages sent now."""
    before = len(mail.outbox)
    pending = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.PENDING).order_by("pk")
    for pk in pending.values_list("pk", flat=True):
        email_deliver(outgoing_email_id=pk)
    return mail.outbox[before:]


def delivered() -> list:
    """Every message sent in this test, after delivering what is queued."""
    outbox_deliver()
    return list(mail.outbox)
