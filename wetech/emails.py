"""The one way the site sends a templated email: render, send, log.

Callers (`sales/emails.py`, `payments/emails.py`) schedule their emails with
`transaction.on_commit`, after the change that caused them was saved: a mail server that fails
is therefore logged, never raised, so it cannot undo or error what already happened.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation

from wetech.company import company_get

logger = logging.getLogger("wetech.emails")


# An attachment as Django's EmailMessage takes it: (filename, content, MIME type).
Attachment = tuple[str, bytes, str]


def email_send(
    *,
    template: str,
    to: list[str],
    context: dict,
    reason: str,
    attachments: list[Attachment] | None = None,
    language: str = "",
) -> bool:
    """Render `emails/<template>_subject.txt` and `emails/<template>.txt` with `context` and send
    them to `to`, with `attachments` if any; True when the mail server took the message.

    `language` is the reader's (a customer's stored language: the lead's or the invoice's; staff
    read English, the default): the templates, dates and the catalogue's words are rendered in
    it, whatever language the request or task that sends it happens to be in.

    Every template also gets `company` (who signs: name, address, contacts, tax numbers) and
    `attachment_names` (the files attached, so the text can say so truthfully), unless `context`
    brings its own. `reason` says what the email is about in the log ("lead 12",
    "payment WT-2026-00001-..."); it must name a record, never a person (the log keeps no email
    addresses).
    """
    attachments = list(attachments or [])
    context = {
        "company": company_get(),
        "attachment_names": [filename for filename, _content, _mimetype in attachments],
        **context,
    }
    with translation.override(language or settings.LANGUAGE_CODE):
        # A subject is one header line: whatever the template's line breaks, it never spills.
        subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
        body = render_to_string(f"emails/{template}.txt", context)
    try:
        EmailMessage(subject=subject, body=body, to=to, attachments=attachments).send()
    except Exception:
        logger.exception("email %s for %s could not be sent", template, reason)
        return False
    logger.info("email %s for %s sent", template, reason)
    return True
