"""The one templated-email helper: what it renders, sends and logs, and a mail server that fails."""

import logging
import socket

import pytest
from django.test import override_settings

from wetech.emails import email_send

TEMPLATES = {
    # A subject template with line breaks, as an editor may leave them.
    "emails/greeting_subject.txt": "Hello\n  {{ name }}\n",
    "emails/greeting.txt": "Dear {{ name }},\nyour invoice is ready.\n",
    "emails/signed_subject.txt": "From {{ company.name }}",
    "emails/signed.txt": (
        "{% if attachment_names %}Attached: {{ attachment_names|join:', ' }}.\n{% endif %}"
        "{{ company.name }}, TIN {{ company.tin }}, VRN {{ company.vrn }}\n"
    ),
}


@pytest.fixture(autouse=True)
def _templates():
    with override_settings(
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", TEMPLATES)]},
            }
        ]
    ):
        yield


def _closed_port() -> int:
    """A local port nothing listens on: a mail server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_renders_sends_and_logs(mailoutbox, caplog):
    caplog.set_level(logging.INFO, logger="wetech.emails")

    sent = email_send(
        template="greeting",
        to=["asha@example.co.tz"],
        context={"name": "Asha"},
        reason="lead 7",
    )

    assert sent is True
    [message] = mailoutbox
    assert message.to == ["asha@example.co.tz"]
    assert message.subject == "Hello Asha"  # one header line
    assert message.body == "Dear Asha,\nyour invoice is ready.\n"
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("wetech.emails", "INFO", "email greeting for lead 7 sent")
    ]


def test_a_mail_server_that_fails_is_logged_never_raised(caplog):
    caplog.set_level(logging.INFO, logger="wetech.emails")
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=_closed_port(),
        EMAIL_TIMEOUT=2,
    ):
        sent = email_send(
            template="greeting",
            to=["asha@example.co.tz"],
            context={"name": "Asha"},
            reason="payment WT-2026-00001-0A1B2C3D",
        )

    assert sent is False
    [record] = caplog.records
    assert (record.levelname, record.getMessage()) == (
        "ERROR",
        "email greeting for payment WT-2026-00001-0A1B2C3D could not be sent",
    )
    assert isinstance(record.exc_info[1], OSError)


def test_it_attaches_files_and_the_text_can_name_them(mailoutbox, settings):
    settings.COMPANY_NAME = "WeTech Ltd"
    settings.COMPANY_TIN = "123-456-789"
    settings.COMPANY_VRN = "40-012345-A"
    pdf = b"%PDF-1.4 receipt"

    sent = email_send(
        template="signed",
        to=["asha@example.co.tz"],
        context={},
        reason="payment WT-2026-00001-0A1B2C3D",
        attachments=[("WT-2026-00001.pdf", pdf, "application/pdf")],
    )

    assert sent is True
    [message] = mailoutbox
    assert message.subject == "From WeTech Ltd"
    assert message.body == (
        "Attached: WT-2026-00001.pdf.\nWeTech Ltd, TIN 123-456-789, VRN 40-012345-A\n"
    )
    assert message.attachments == [("WT-2026-00001.pdf", pdf, "application/pdf")]


def test_without_attachments_nothing_is_attached_or_said(mailoutbox):
    email_send(template="signed", to=["asha@example.co.tz"], context={}, reason="lead 7")

    [message] = mailoutbox
    assert message.attachments == []
    assert not message.body.startswith("Attached")


def test_the_callers_context_wins_over_the_defaults(mailoutbox):
    email_send(
        template="signed",
        to=["asha@example.co.tz"],
        context={"company": {"name": "Someone else"}},
        reason="lead 7",
    )

    assert mailoutbox[0].subject == "From Someone else"
