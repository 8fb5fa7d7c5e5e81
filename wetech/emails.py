"""The one way the site sends a templated email: render, send, log.

Callers (`sales/emails.py`, `payments/emails.py`) schedule their emails with
`transaction.on_commit`, after the change that caused them was saved: a mail server that fails
is therefore logged, never raised, so it cannot undo or error what already happened.
"""

import logging

from django.core.mail import EmailMessage
from django.template.loader import render_to_string

logger = logging.getLogger("wetech.emails")


def email_send(*, template: str, to: list[str], context: dict, reason: str) -> bool:
    """Render `emails/<template>_subject.txt` and `emails/<template>.txt` with `context` and send
    them to `to`; True when the mail server took the message.

    `reason` says what the email is about in the log ("lead 12", "payment WT-2026-00001-...");
    it must name a record, never a person (the log keeps no email addresses).
    """
    # A subject is one header line: whatever the template's line breaks, it never spills over.
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    body = render_to_string(f"emails/{template}.txt", context)
    try:
        EmailMessage(subject=subject, body=body, to=to).send()
    except Exception:
        logger.exception("email %s for %s could not be sent", template, reason)
        return False
    logger.info("email %s for %s sent", template, reason)
    return True
