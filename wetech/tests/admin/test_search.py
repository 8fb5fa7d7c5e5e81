"""Back-office search: what is typed decides the lookup. Numbers and references exactly or by
prefix, emails and phones exactly (normalised), words as substrings of names and companies."""

import pytest

from wetech.admin.search import search_term_read
from wetech.models import Client, Invoice, Lead, OutgoingEmail, PaymentAttempt
from wetech.tests.scale_helpers import book_add, invoice_with_lines, paid_attempt, refund_done

pytestmark = pytest.mark.django_db


def found(admin_client, model: str, q: str) -> list:
    response = admin_client.get(f"/admin/wetech/{model}/", {"q": q})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def numbers(rows) -> list[str]:
    return sorted(row.number for row in rows)


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        ("WT-2026-00012", "reference", "WT-2026-00012"),
        (" wt-2026-0001 ", "reference", "WT-2026-0001"),
        ("WT-2026-00012-9F3A2B1C", "reference", "WT-2026-00012-9F3A2B1C"),
        ("CN-2026-00003", "reference", "CN-2026-00003"),
        (" Asha@Example.CO.TZ ", "email", "asha@example.co.tz"),
        ("0712 345 678", "phone", "+255712345678"),
        ("+255 712-345-678", "phone", "+255712345678"),
        ("Amina  Mwakyusa", "words", "Amina Mwakyusa"),
        ("123", "words", "123"),
    ],
)
def test_a_search_is_read_as_what_was_typed(typed, kind, value):
    term = search_term_read(typed)
    assert (term.kind, term.value) == (kind, value)


def test_a_blank_search_is_no_search():
    assert search_term_read("   ") is None


# --- Invoices -------------------------------------------------------------------------------------


@pytest.fixture
def client_row():
    return Client.objects.create(
        name="Amina Mwakyusa",
        email="amina@example.co.tz",
        phone="+255712345678",
        company="Kilimanjaro Traders",
    )


@pytest.fixture
def invoices(client_row):
    other = Client.objects.create(name="Juma Kimaro", email="juma@example.co.tz", phone="+2557")
    made = {
        number: invoice_with_lines(client_row if n % 2 else other, number=number)
        for n, number in enumerate(
            ["WT-2026-10000", "WT-2026-100000", "WT-2026-00011", "WT-2026-00012", "WT-2025-00011"]
        )
    }
    return made


def test_a_whole_invoice_number_is_found_exactly(admin_client, invoices):
    assert numbers(found(admin_client, "invoice", "WT-2026-10000")) == ["WT-2026-10000"]
    assert numbers(found(admin_client, "invoice", "wt-2026-00012")) == ["WT-2026-00012"]


def test_the_start_of_a_number_finds_every_invoice_it_begins(admin_client, invoices):
    assert numbers(found(admin_client, "invoice", "WT-2026-0001")) == [
        "WT-2026-00011",
        "WT-2026-00012",
    ]
    assert numbers(found(admin_client, "invoice", "WT-2026-1")) == [
        "WT-2026-10000",
        "WT-2026-100000",
    ]
    assert found(admin_client, "invoice", "WT-2024") == []


def test_a_payment_or_refund_reference_finds_its_invoice(admin_client, invoices):
    attempt = paid_attempt(invoices["WT-2026-00012"], suffix="9F3A2B1C")
    refund = refund_done(attempt)
    for typed in (attempt.merchant_reference, refund.reference):
        assert numbers(found(admin_client, "invoice", typed)) == ["WT-2026-00012"]


def test_a_credit_note_number_finds_its_invoice(admin_client, invoices):
    note = refund_done(paid_attempt(invoices["WT-2026-00011"], suffix="A1")).credit_note
    assert numbers(found(admin_client, "invoice", note.number)) == ["WT-2026-00011"]


def test_an_email_is_found_exactly_and_whole(admin_client, invoices):
    mine = ["WT-2026-00012", "WT-2026-100000"]
    assert numbers(found(admin_client, "invoice", " AMINA@example.co.tz")) == mine
    assert found(admin_client, "invoice", "mina@example.co.tz") == []
    assert found(admin_client, "invoice", "amina@example.co") == []


def test_a_phone_is_found_in_any_usual_writing(admin_client, invoices):
    mine = ["WT-2026-00012", "WT-2026-100000"]
    for typed in ("0712 345 678", "+255712345678", "255 712 345 678"):
        assert numbers(found(admin_client, "invoice", typed)) == mine


def test_words_are_found_in_the_name_or_company(admin_client, invoices):
    mine = ["WT-2026-00012", "WT-2026-100000"]
    assert numbers(found(admin_client, "invoice", "mwakyusa")) == mine
    assert numbers(found(admin_client, "invoice", "kilimanjaro amina")) == mine
    assert found(admin_client, "invoice", "kilimanjaro juma") == []


# --- Clients and leads ----------------------------------------------------------------------------


def test_clients_are_found_by_email_phone_or_words(admin_client, client_row):
    Client.objects.create(name="Juma Kimaro", email="juma@example.co.tz", phone="+255754000000")
    for typed in ("Amina@Example.co.tz", "0712345678", "akyus", "traders"):
        assert found(admin_client, "client", typed) == [client_row]
    assert found(admin_client, "client", "example.co.tz") == []


def test_a_lead_is_found_by_what_was_typed_that_time_not_by_its_message(admin_client, client_row):
    lead = Lead.objects.create(
        client=client_row,
        name="Amina M.",
        email="amina.m@example.co.tz",
        phone="+255712345678",
        message="Tunahitaji tovuti ya duka",
    )
    assert found(admin_client, "lead", "amina.m@example.co.tz") == [lead]
    assert found(admin_client, "lead", "0712 345 678") == [lead]
    assert found(admin_client, "lead", "amina") == [lead]
    # The message is read on the lead's page; the client's own email is the client's search.
    assert found(admin_client, "lead", "tovuti") == []
    assert found(admin_client, "lead", "amina@example.co.tz") == []


def test_a_lead_is_found_by_its_invoice_number(admin_client, client_row):
    (invoice,) = book_add(1)
    assert found(admin_client, "lead", invoice.number) == [invoice.lead]


# --- Money ----------------------------------------------------------------------------------------


def test_payments_are_found_by_reference_invoice_number_or_gateway_reference(admin_client):
    first, second = book_add(2)
    one = paid_attempt(first, suffix="0000AAAA")
    theirs = second.payment_attempts.get()
    assert found(admin_client, "paymentattempt", one.merchant_reference) == [one]
    assert {a.pk for a in found(admin_client, "paymentattempt", first.number)} == {
        a.pk for a in first.payment_attempts.all()
    }
    assert found(admin_client, "paymentattempt", theirs.gateway_reference) == [theirs]
    assert found(admin_client, "paymentattempt", second.client_email) == [theirs]


def test_a_payment_is_found_by_the_payer_phone_or_the_client_phone(admin_client):
    first, second = book_add(2)
    pushed = first.payment_attempts.get()
    PaymentAttempt.objects.filter(pk=pushed.pk).update(payer_phone="+255754111222")
    assert found(admin_client, "paymentattempt", "0754 111 222") == [pushed]
    assert found(admin_client, "paymentattempt", second.client_phone) == [
        second.payment_attempts.get()
    ]


def test_the_ledger_notifications_and_cases_are_found_by_invoice_number(admin_client):
    first, _second = book_add(2)
    for model, rows in (
        ("ledgerentry", first.ledger_entries.all()),
        ("gatewaynotification", first.payment_attempts.get().notifications.all()),
        ("reviewcase", first.review_cases.all()),
        ("auditentry", first.audit_entries.all()),
        ("refund", first.refunds.all()),
        ("creditnote", first.credit_notes.all()),
    ):
        assert {row.pk for row in found(admin_client, model, first.number)} == {
            row.pk for row in rows
        }, model


def test_refunds_and_credit_notes_are_found_by_their_own_references(admin_client):
    (invoice,) = book_add(1)
    refund = invoice.refunds.get()
    assert found(admin_client, "refund", refund.reference) == [refund]
    assert found(admin_client, "creditnote", refund.credit_note.number) == [refund.credit_note]
    entry = invoice.ledger_entries.get(kind="refund")
    assert found(admin_client, "ledgerentry", refund.reference) == [entry]


def test_the_audit_trail_is_found_by_who_exactly(admin_client):
    (invoice,) = book_add(1)
    entry = invoice.audit_entries.get()
    assert found(admin_client, "auditentry", entry.actor) == [entry]
    assert found(admin_client, "auditentry", entry.actor[:-1]) == []


def test_emails_are_found_by_what_they_are_about(admin_client):
    (invoice,) = book_add(1)
    invoice_email = OutgoingEmail.objects.get()
    attempt = invoice.payment_attempts.get()
    receipt = OutgoingEmail.objects.create(
        template="receipt",
        to=[invoice.client_email],
        reason=f"payment {attempt.merchant_reference}",
        message_id="<receipt-1@wetech.test>",
    )
    lead = OutgoingEmail.objects.create(
        template="lead_acknowledgement", to=["x@example.co.tz"], reason="lead 7", message_id="<l7>"
    )
    assert set(found(admin_client, "outgoingemail", invoice.number)) == {invoice_email, receipt}
    assert found(admin_client, "outgoingemail", attempt.merchant_reference) == [receipt]
    assert found(admin_client, "outgoingemail", "lead 7") == [lead]
    assert found(admin_client, "outgoingemail", "receipt-1@wetech.test") == [receipt]
    assert found(admin_client, "outgoingemail", "lead") == []


def test_a_search_that_names_nothing_here_finds_nothing(admin_client):
    book_add(1)
    assert found(admin_client, "gatewaynotification", "Amina") == []
    assert found(admin_client, "invoice", "CN-2020-00001") == []
    assert Invoice.objects.count() == 1
