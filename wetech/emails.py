"""The outbox: the one way the site sends an email.

`email_send` (called by `sales/emails.py`, `payments/emails.py` and every other email of the site)
renders nothing and sends nothing: it INSERTS an `OutgoingEmail` row in the caller's transaction,
so the email exists exactly when the change that causes it commits, and, once that transaction
commits, asks the background worker to deliver it (the `email_queued` signal; `wetech.tasks`
turns it into a Huey task). The worker's task calls `email_deliver`, which

1. claims the row (pending and due, or sending with an expired lease -> sending): 0 rows means
   another worker has it, or it is sent, failed or not yet due: nothing to do;
2. renders the subject, the body and the attachments (PDFs are rendered here, in the worker);
3. sends it with its stable `Message-ID`, then marks it sent;
4. on a failure, counts the attempt and sets the next one (exponential backoff with jitter, capped:
   `EMAIL_RETRY_BASE_SECONDS` .. `EMAIL_RETRY_MAX_SECONDS`); after `EMAIL_MAX_ATTEMPTS` attempts, or
   at once for what no retry can fix (a deleted record, a missing template, addresses the server
   refuses for good), it is marked failed and logged as an ERROR (staff are alerted through the
   error log and Sentry; the back office lists it and can send it again).

A periodic sweep (`outgoing_emails_due`, every minute) queues again every row whose task was lost:
pending rows a lease past their due time, and rows whose worker died holding them (lease
expired). Huey's acknowledgement is never relied on. Delivery is therefore at least once: a worker
killed before the mail server accepted a message loses nothing (the lease expires, the sweep
queues it again); a worker killed after the sent mark sends nothing twice. A worker killed after
the server accepted the message but before the sent mark sends it again, with the same Message-ID,
which lets mail clients drop the duplicate.

The context rule. The context is stored as JSON, never as objects: at insert, a model instance
becomes `{"__model__": "wetech.invoice", "pk": 42}` and is fetched again when the worker renders
(so the email shows the record as it is when sent); a Decimal, a date or a datetime is tagged the
same way (`{"__decimal__": "413000.00"}`); str, int, float, bool, None, lists and dicts of them pass
as they are. Anything else is a TypeError in the caller, at once. Callers keep passing the
instances their templates use.
"""

import logging
import random
import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils import timezone, translation

from wetech.company import company_get
from wetech.models import OutgoingEmail

logger = logging.getLogger("wetech.emails")

Status = OutgoingEmail.Status

# Sent (once the transaction that queued the email commits) with `outgoing_email_id`: the
# background worker should deliver that email now. wetech.tasks listens and enqueues the task.
# Nothing depends on it being heard: the sweep finds every row that is due.
email_queued = Signal()

# At most this many rows are queued again by one sweep (the next sweep takes the rest).
SWEEP_BATCH = 500
LAST_ERROR_MAX_CHARS = 1000


class UnknownAttachmentKind(Exception):
    """An attachment spec names a kind no renderer is registered for."""


# kind -> renderer(**spec without "kind") -> (filename, content, mimetype). Filled by the modules
# that own the documents (e.g. the invoice PDF: attachment_renderer_register("invoice_pdf", ...)).
_attachment_renderers: dict[str, Callable[..., tuple[str, bytes, str]]] = {}


def attachment_renderer_register(kind: str, renderer: Callable[..., tuple[str, bytes, str]]):
    """Let `attachments=[{"kind": kind, ...}]` be rendered (in the worker) by `renderer`, called
    with the spec's other keys; it returns (filename, content, mimetype)."""
    _attachment_renderers[kind] = renderer
    return renderer


# --- Queue (in the request) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Email:
    """One email to queue with `emails_send`: the arguments of `email_send`."""

    template: str
    to: list[str]
    context: dict
    reason: str
    attachments: list[dict] | None = None
    language: str = ""


def email_send(
    *,
    template: str,
    to: list[str],
    context: dict,
    reason: str,
    attachments: list[dict] | None = None,
    language: str = "",
) -> OutgoingEmail:
    """Queue `emails/<template>_subject.txt` + `emails/<template>.txt` for `to`, rendered later
    with `context` by the worker; the row, written in the caller's transaction.

    `reason` says what the email is about in the log ("lead 12", "payment WT-2026-00001-...");
    it must name a record, never a person (the log keeps no email addresses). `attachments` are
    specs of documents the worker renders: [{"kind": "invoice_pdf", "invoice_id": 42}].
    `context` follows the rule in this module's docstring (model instances are stored as ids).
    """
    email = Email(
        template=template,
        to=to,
        context=context,
        reason=reason,
        attachments=attachments,
        language=language,
    )
    return emails_send([email])[0]


def emails_send(emails: list[Email]) -> list[OutgoingEmail]:
    """`email_send` for the emails one change causes (a lead's, a payment's): their rows in one
    INSERT, in the caller's transaction, each delivered by a task of its own once it commits."""
    now = timezone.now()
    rows = [_outgoing(email, now=now) for email in emails]
    if not rows:
        return []
    OutgoingEmail.objects.bulk_create(rows)
    for row in rows:
        # One hook each: a queue that refuses one task does not hold back the others.
        transaction.on_commit(partial(_announce, row.pk), robust=True)
    return rows


def _outgoing(email: Email, *, now) -> OutgoingEmail:
    to = email.to
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients or not all(isinstance(address, str) and address for address in recipients):
        raise ValueError(f"email {email.template} for {email.reason}: no recipient")
    return OutgoingEmail(
        template=email.template,
        to=recipients,
        context=context_to_json(email.context),
        reason=email.reason[:200],
        language=email.language,
        attachments=[_attachment_spec(spec) for spec in email.attachments or []],
        message_id=message_id_new(),
        next_attempt_at=now,
        enqueued_at=now,
        created_at=now,
    )


def message_id_new() -> str:
    """A Message-ID of our own domain (SITE_URL's host): <uuid@host>."""
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def _announce(outgoing_email_id: int) -> None:
    email_queued.send(sender=OutgoingEmail, outgoing_email_id=outgoing_email_id)


def _attachment_spec(spec) -> dict:
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise TypeError(f"an attachment is a spec {{'kind': 'invoice_pdf', ...}}, not {spec!r}")
    return context_to_json(spec)


# --- The context rule -----------------------------------------------------------------------------

_TAGS = ("__model__", "__decimal__", "__datetime__", "__date__")


def context_to_json(value):
    """`value` as plain JSON, by the rule in this module's docstring."""
    if isinstance(value, models.Model):
        if value.pk is None:
            raise TypeError(f"an unsaved {value._meta.label} cannot go into an email's context")
        return {"__model__": value._meta.label_lower, "pk": value.pk}
    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, date):
        return {"__date__": value.isoformat()}
    if isinstance(value, dict):
        return {str(key): context_to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [context_to_json(item) for item in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise TypeError(
        f"{type(value).__name__} cannot go into an email's context: pass a model instance, "
        "an id or a plain value"
    )


def context_from_json(value, *, _fetched: dict | None = None):
    """The context as the templates see it: records fetched again (once each), values restored."""
    fetched = {} if _fetched is None else _fetched
    if isinstance(value, dict):
        tag = next((key for key in _TAGS if key in value), None)
        if tag == "__model__":
            key = (value["__model__"], value["pk"])
            if key not in fetched:
                model = apps.get_model(value["__model__"])
                fetched[key] = model._default_manager.get(pk=value["pk"])
            return fetched[key]
        if tag == "__decimal__":
            return Decimal(value["__decimal__"])
        if tag == "__datetime__":
            return datetime.fromisoformat(value["__datetime__"])
        if tag == "__date__":
            return date.fromisoformat(value["__date__"])
        return {key: context_from_json(item, _fetched=fetched) for key, item in value.items()}
    if isinstance(value, list):
        return [context_from_json(item, _fetched=fetched) for item in value]
    return value


# --- Deliver (in the worker) ----------------------------------------------------------------------


def email_deliver(*, outgoing_email_id: int) -> datetime | None:
    """Claim, render, send and mark one email; when it must be tried again, the time to try.

    None: sent, failed for good, or not ours to send (another worker has it, it is done, or it
    is not due yet).
    """
    now = timezone.now()
    lease_expired = now - timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
    claimed = (
        OutgoingEmail.objects.filter(pk=outgoing_email_id)
        .filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Status.SENDING, claimed_at__lt=lease_expired)
        )
        .update(status=Status.SENDING, claimed_at=now, attempts=models.F("attempts") + 1)
    )
    if not claimed:
        return None
    email = OutgoingEmail.objects.get(pk=outgoing_email_id)
    try:
        message = email_message_build(email)
        message.send()
    except Exception as exc:
        return _attempt_failed(email, exc)
    _sent_mark(email)
    logger.info("email %s for %s sent", email.template, email.reason)
    return None


def email_message_build(email: OutgoingEmail) -> EmailMessage:
    """Render the row into the message the mail server gets (subject, body, attachments).

    Every template also gets `company` (who signs: name, address, contacts, tax numbers) and
    `attachment_names` (the files really attached, so the text can say so truthfully), unless
    the stored context brings its own. A document that cannot be drawn is logged and left out:
    the email (a receipt, say) still goes out without it.
    """
    with translation.override(email.language or settings.LANGUAGE_CODE):
        attachments = []
        for spec in email.attachments:
            spec = context_from_json(spec)
            renderer = _attachment_renderers.get(spec["kind"])
            if renderer is None:
                raise UnknownAttachmentKind(f"no renderer for attachments of kind {spec['kind']!r}")
            try:
                attachments.append(renderer(**{k: v for k, v in spec.items() if k != "kind"}))
            except ObjectDoesNotExist:
                raise
            except Exception:
                logger.exception(
                    "attachment %s of email %s for %s could not be drawn: sent without it",
                    spec["kind"],
                    email.template,
                    email.reason,
                )
        context = {
            "company": company_get(),
            "attachment_names": [filename for filename, _content, _mimetype in attachments],
            **context_from_json(email.context),
        }
        # A subject is one header line: whatever the template's line breaks, it never spills.
        subject = " ".join(
            render_to_string(f"emails/{email.template}_subject.txt", context).split()
        )
        body = render_to_string(f"emails/{email.template}.txt", context)
        message = EmailMessage(
            subject=subject, body=body, to=email.to, headers={"Message-ID": email.message_id}
        )
        for attachment in attachments:
            message.attach(*attachment)
    return message


def _sent_mark(email: OutgoingEmail) -> None:
    # Whoever holds the lease now, the message went out: the row says so.
    OutgoingEmail.objects.filter(pk=email.pk).exclude(status=Status.SENT).update(
        status=Status.SENT, sent_at=timezone.now(), claimed_at=None, last_error=""
    )


def _attempt_failed(email: OutgoingEmail, exc: Exception) -> datetime | None:
    now = timezone.now()
    error = f"{type(exc).__name__}: {exc}".strip()[:LAST_ERROR_MAX_CHARS]
    permanent = _is_permanent(exc)
    if permanent or email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
        changes = {"status": Status.FAILED}
        retry_at = None
    else:
        retry_at = now + timedelta(seconds=email_retry_delay(attempts=email.attempts))
        changes = {"status": Status.PENDING, "next_attempt_at": retry_at, "enqueued_at": retry_at}
    still_ours = OutgoingEmail.objects.filter(
        pk=email.pk, status=Status.SENDING, claimed_at=email.claimed_at
    ).update(claimed_at=None, last_error=error, **changes)
    if not still_ours:
        return None  # the lease ran out and another worker took it over: its outcome stands
    if retry_at is None:
        logger.error(
            "email %s for %s failed for good after %s attempt(s)%s: %s",
            email.template,
            email.reason,
            email.attempts,
            " (no retry can fix it)" if permanent else "",
            error,
            exc_info=exc,
            extra={"outgoing_email_id": email.pk},
        )
    else:
        logger.warning(
            "email %s for %s could not be sent (attempt %s of %s), next attempt at %s: %s",
            email.template,
            email.reason,
            email.attempts,
            settings.EMAIL_MAX_ATTEMPTS,
            retry_at.isoformat(timespec="seconds"),
            error,
            extra={"outgoing_email_id": email.pk},
        )
    return retry_at


def _is_permanent(exc: Exception) -> bool:
    """What no retry can fix: the record or template is gone, or the server refuses the
    recipients for good (5xx). Everything else (the server down, a 4xx) is tried again."""
    if isinstance(
        exc, ObjectDoesNotExist | TemplateDoesNotExist | TemplateSyntaxError | UnknownAttachmentKind
    ):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def email_retry_delay(*, attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: the base doubled each time, capped,
    with "equal jitter" (between half and all of it) so retries after an outage spread out.

    With the defaults (60 s doubling up to 8 h, 12 attempts) the 11 waits add up to 12 to 24.5
    hours: about a day.
    """
    ceiling = min(
        settings.EMAIL_RETRY_MAX_SECONDS,
        settings.EMAIL_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


# --- Sweep and retry (the worker's schedule; the back office) -------------------------------------


def outgoing_emails_due(*, limit: int = SWEEP_BATCH) -> list[int]:
    """The emails whose task was lost: pending and a lease past due (its queued or scheduled task
    should have run by then), or claimed by a worker whose lease expired. Marks each as queued
    now (the caller enqueues a task for each id), so the next sweep leaves them alone for a lease.
    """
    now = timezone.now()
    lease_ago = now - timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
    not_queued_lately = Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=lease_ago)
    ids = list(
        OutgoingEmail.objects.filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Status.SENDING, claimed_at__lt=lease_ago)
        )
        .filter(not_queued_lately)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        OutgoingEmail.objects.filter(pk__in=ids).update(enqueued_at=now)
        logger.warning("%s email(s) queued again by the sweep: their task was lost", len(ids))
    return ids


def outgoing_emails_retry_now(*, ids) -> int:
    """Staff's "send again now": every chosen email not yet sent is due now (a failed one gets a
    full round of attempts again) and goes to the worker once this commits. How many."""
    now = timezone.now()
    with transaction.atomic():
        chosen = list(
            OutgoingEmail.objects.filter(pk__in=ids)
            .exclude(status__in=[Status.SENT, Status.SENDING])
            .values_list("pk", "status")
        )
        OutgoingEmail.objects.filter(pk__in=[pk for pk, _ in chosen]).update(
            next_attempt_at=now, enqueued_at=now
        )
        OutgoingEmail.objects.filter(
            pk__in=[pk for pk, status in chosen if status == Status.FAILED]
        ).update(status=Status.PENDING, attempts=0)
        for pk, _ in chosen:
            transaction.on_commit(partial(_announce, pk), robust=True)
    return len(chosen)


# --- What /health/ reads ------------------------------------------------------------------------

# A pending email this far past its due time, or a claimed one this far past its lease, is stuck.
STUCK_AFTER = timedelta(minutes=10)
# Failed emails count as stuck for this long (then staff have had a week to send them again).
FAILED_SHOWN_FOR = timedelta(days=7)


def outgoing_email_oldest_unsent() -> datetime | None:
    """When the oldest email not yet sent (nor given up) was queued."""
    return OutgoingEmail.objects.filter(status__in=[Status.PENDING, Status.SENDING]).aggregate(
        oldest=models.Min("created_at")
    )["oldest"]


def outgoing_emails_stuck_count() -> int:
    """Emails pending more than STUCK_AFTER past their due time, held by a worker more than
    STUCK_AFTER past its lease, or failed within FAILED_SHOWN_FOR."""
    now = timezone.now()
    lease = timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
    return OutgoingEmail.objects.filter(
        Q(status=Status.PENDING, next_attempt_at__lt=now - STUCK_AFTER)
        | Q(status=Status.SENDING, claimed_at__lt=now - lease - STUCK_AFTER)
        | Q(status=Status.FAILED, created_at__gte=now - FAILED_SHOWN_FOR)
    ).count()


# Deleted in batches, so a big first prune never holds a long write lock (SQLite).
PRUNE_BATCH = 1000


def outgoing_emails_prune(*, older_than_days: int, now: datetime | None = None) -> int:
    """Delete the emails sent more than `older_than_days` days ago; how many were deleted.

    Only sent ones: pending and sending ones are work still to do, and failed ones stay for staff
    to look at and send again. Once sent, a row is needed by nothing (the Message-ID has gone
    out with the message), so its customer's address and context need not be kept.
    """
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    deleted = 0
    while True:
        batch = list(
            OutgoingEmail.objects.filter(status=Status.SENT, sent_at__lt=cutoff).values_list(
                "pk", flat=True
            )[:PRUNE_BATCH]
        )
        if not batch:
            return deleted
        deleted += OutgoingEmail.objects.filter(pk__in=batch).delete()[0]
