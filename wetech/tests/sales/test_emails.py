"""The lead emails: the customer's acknowledgement is no spam relay, staff's email is unchanged;
they are queued with the lead and sent by the worker, never in the request."""

import logging
import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import translation

from wetech.models import Lead, OutgoingEmail, Service
from wetech.sales.catalogue import DEMO_CATALOGUE, catalogue_load
from wetech.sales.leads import lead_capture
from wetech.tests.email_helpers import outbox_deliver
from wetech.tests.lead_helpers import make_service

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_staff")]

SPAM = "Cheap pills at pills.example, call now"
PERSON = {"email": "victim@example.co.tz", "phone": "+255712345678"}
STAFF = ["sales@wetech.co.tz"]


@pytest.fixture
def _staff():
    with override_settings(STAFF_EMAILS=STAFF):
        yield


@pytest.fixture
def capture(django_capture_on_commit_callbacks, mailoutbox):
    """lead_capture, then the worker's delivery; returns (lead, invoice, emails it sent)."""

    def run(**fields):
        before = len(mailoutbox)
        with django_capture_on_commit_callbacks(execute=True):
            lead, invoice = lead_capture(**{"name": "Asha Mwinyi", **PERSON, **fields})
        assert len(mailoutbox) == before  # nothing is sent in the request
        return lead, invoice, outbox_deliver()

    return run


def _customer(sent):
    return [message for message in sent if message.to != STAFF]


def test_the_acknowledgement_carries_no_visitor_text_but_a_short_name(capture):
    name = "Asha Mwinyi Binti Salim wa Mikocheni Kati Juu"  # 45 characters
    lead, _, sent = capture(name=name, company=SPAM, message=SPAM + " " * 3 + "and more")

    [staff, ack] = sent
    assert ack.to == ["victim@example.co.tz"]
    assert ack.subject == "We received your message"
    assert ack.body.startswith("Hello Asha Mwinyi Binti Salim wa Mikocheni Kat,\n")  # 40
    assert name not in ack.body
    assert "pills" not in ack.body + ack.subject
    # Staff still see everything the visitor wrote.
    assert staff.to == STAFF
    assert SPAM in staff.body
    assert name in staff.body
    assert lead.name == name


@pytest.mark.parametrize(
    "name",
    ["Visit pills.example now", "http://x.example", "Asha <a@b.example>", "me@pills", "a/b"],
)
def test_a_name_that_reads_as_a_link_is_left_out(capture, name):
    _, _, sent = capture(name=name)

    [ack] = _customer(sent)
    assert ack.body.startswith("Hello,\n")
    assert name not in ack.body


def test_one_address_gets_one_acknowledgement_per_hour(capture, time_machine):
    time_machine.move_to("2026-03-02T09:00:00+03:00", tick=False)
    _, _, first = capture(message="first")
    time_machine.move_to("2026-03-02T09:59:00+03:00", tick=False)
    _, _, second = capture(message="second")
    _, _, other = capture(message="other", email="someone.else@example.co.tz")
    time_machine.move_to("2026-03-02T10:59:30+03:00", tick=False)
    _, _, later = capture(message="later")

    assert [m.to for m in first] == [STAFF, ["victim@example.co.tz"]]
    # Within the hour: staff hear of the lead, the address gets nothing more.
    assert [m.to for m in second] == [STAFF]
    assert [m.to for m in other] == [STAFF, ["someone.else@example.co.tz"]]
    # An hour after the last lead to it, the address is acknowledged again.
    assert [m.to for m in later] == [STAFF, ["victim@example.co.tz"]]
    assert Lead.objects.count() == 4


def test_a_capped_priced_lead_still_gets_its_invoice_link(capture):
    service = make_service(price=Decimal("350000"))
    _, first_invoice, first = capture(service=service, name=SPAM)
    _, invoice, sent = capture(service=service, name=SPAM, company=SPAM, message=SPAM)

    [ack] = _customer(first)
    assert first_invoice.number in ack.body
    [staff, invoice_email] = sent
    assert staff.to == STAFF
    assert invoice_email.to == ["victim@example.co.tz"]
    assert invoice_email.subject == f"Your WeTech invoice {invoice.number}"
    assert f"http://127.0.0.1:8000/invoices/{invoice.token}/" in invoice_email.body
    assert invoice.number in invoice_email.body
    assert "TZS 413,000" in invoice_email.body
    assert "pills" not in invoice_email.body
    assert "Hello" not in invoice_email.body
    # Three priced leads in the hour: three invoice links, never an extra acknowledgement.
    _, third_invoice, third = capture(service=service)
    assert [m.subject for m in _customer(third)] == [f"Your WeTech invoice {third_invoice.number}"]


def test_a_mail_server_that_is_down_keeps_the_lead_and_its_emails_for_the_next_attempt(
    django_capture_on_commit_callbacks, mailoutbox, caplog
):
    caplog.set_level(logging.INFO, logger="wetech.emails")
    with socket.socket() as probe:  # a local port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with (
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=closed_port,
            EMAIL_TIMEOUT=2,
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        lead, _ = lead_capture(name="Asha Mwinyi", **PERSON)
        # The request's work is done: the emails wait in the outbox, nothing was sent or tried.
        assert list(OutgoingEmail.objects.values_list("template", "status", "attempts")) == [
            ("lead_acknowledgement", "pending", 0),
            ("lead_staff", "pending", 0),
        ]
        assert [r for r in caplog.records if r.name == "wetech.emails"] == []
        outbox_deliver()  # the worker's first attempt

    assert Lead.objects.filter(pk=lead.pk).exists()
    assert mailoutbox == []
    for email in OutgoingEmail.objects.all():
        assert (email.status, email.attempts) == ("pending", 1)
        assert email.last_error.startswith("ConnectionRefusedError")
    warnings = [r.getMessage() for r in caplog.records if r.name == "wetech.emails"]
    assert [w.split(", next attempt at")[0] for w in warnings] == [
        f"email lead_staff for lead {lead.pk} could not be sent (attempt 1 of 12)",
        f"email lead_acknowledgement for lead {lead.pk} could not be sent (attempt 1 of 12)",
    ]


def test_staff_see_the_buyers_tin_and_the_customer_is_not_sent_it(capture):
    _, _, sent = capture(company="Mwinyi Traders", tin="123456789", message="Website please")

    [staff, ack] = sent
    assert "Company:   Mwinyi Traders\nTIN:       123-456-789\n" in staff.body
    assert "123-456-789" not in ack.body
    assert "123456789" not in ack.body


def test_no_tin_line_without_a_tin(capture):
    _, _, sent = capture(company="Mwinyi Traders", message="Website please")

    [staff, _] = sent
    assert "Company:   Mwinyi Traders\nEmail:" in staff.body


@time_machine.travel(datetime(2026, 11, 16, 9, 0, tzinfo=UTC), tick=False)
def test_a_kiswahili_lead_gets_its_emails_in_kiswahili_and_staff_get_english(capture):
    catalogue_load(entries=DEMO_CATALOGUE)
    service = Service.objects.get(slug="business-website")
    with translation.override("en"):  # whatever the sender's language, the lead's decides
        _, invoice, sent = capture(service=service, language="sw")

    [staff, ack] = sent
    assert ack.subject == f"Ankara yako ya WeTech {invoice.number}"
    assert ack.body.startswith("Habari Asha Mwinyi,\n")
    assert "Asante kwa kuwasiliana na WeTech kuhusu Tovuti ya biashara." in ack.body
    assert "TZS 1,770,000 (pamoja na VAT)" in ack.body
    assert f"{settings.SITE_URL}/sw/invoices/{invoice.token}/" in ack.body
    assert "Tafadhali lipa ifikapo 30 Novemba 2026." in ack.body
    assert f"· {settings.SITE_URL}/sw/\n" in ack.body  # the footer's link home
    assert "Timu ya WeTech" in ack.body
    # Staff's email is English, with the service's English name.
    assert staff.subject.startswith("New lead: Asha Mwinyi, Business website, invoice ")
    assert "Service:   Business website" in staff.body
    assert "30 November 2026" in staff.body


def test_the_short_invoice_email_follows_the_leads_language_too(capture):
    catalogue_load(entries=DEMO_CATALOGUE)
    service = Service.objects.get(slug="web-hosting")
    capture(service=service, language="sw")
    with translation.override("sw"):  # and an English lead stays English in a Kiswahili request
        _, invoice, sent = capture(service=service, language="en")
    [invoice_email] = _customer(sent)
    assert invoice_email.subject == f"Your WeTech invoice {invoice.number}"
    assert f"/invoices/{invoice.token}/" in invoice_email.body
    assert "/sw/" not in invoice_email.body
