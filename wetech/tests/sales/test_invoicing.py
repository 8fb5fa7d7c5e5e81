import re
import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test import override_settings

from wetech.models import Client, Invoice, InvoiceCounter, InvoiceLine
from wetech.sales.invoicing import invoice_issue, invoice_number_next


def _draft(*, unit_price=Decimal("350000"), email="asha@example.co.tz"):
    client, _ = Client.objects.get_or_create(
        email=email, defaults={"name": "Asha", "phone": "+255712345678"}
    )
    invoice = Invoice.objects.create(
        client=client,
        client_name="Asha",
        client_email=email,
        client_phone="+255712345678",
        tax_rate=Decimal("0.18"),
    )
    InvoiceLine.objects.create(invoice=invoice, description="Website", unit_price=unit_price)
    return invoice


@pytest.mark.django_db
class TestIssue:
    def test_numbers_are_sequential_per_year_and_restart_in_a_new_year(self):
        with time_machine.travel(datetime(2026, 12, 31, 12, 0, tzinfo=UTC), tick=False):
            first = invoice_issue(invoice=_draft())
            second = invoice_issue(invoice=_draft())
        # 21:30 UTC on 31 December is already 1 January in Dar es Salaam (UTC+3).
        with time_machine.travel(datetime(2026, 12, 31, 21, 30, tzinfo=UTC), tick=False):
            third = invoice_issue(invoice=_draft())
        assert [first.number, second.number, third.number] == [
            "WT-2026-00001",
            "WT-2026-00002",
            "WT-2027-00001",
        ]
        assert third.due_date == date(2027, 1, 15)

    def test_issue_fixes_totals_dates_and_status(self):
        with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False):
            invoice = invoice_issue(invoice=_draft())
        assert invoice.status == Invoice.Status.ISSUED
        assert invoice.issued_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        assert invoice.due_date == date(2026, 3, 16)
        assert invoice.total == Decimal("413000.00")

    def test_tax_rounds_half_up(self):
        invoice = invoice_issue(invoice=_draft(unit_price=Decimal("0.25")))
        assert invoice.tax == Decimal("0.05")  # 0.045 half-up
        assert invoice.total == Decimal("0.30")

    def test_an_issued_invoice_is_not_issued_again(self):
        invoice = invoice_issue(invoice=_draft())
        with pytest.raises(ValueError, match="already issued"):
            invoice_issue(invoice=invoice)
        assert InvoiceCounter.objects.get().last_number == 1


@pytest.mark.django_db(transaction=True)
def test_numbers_are_only_taken_inside_a_transaction():
    # Outside a transaction the row lock would be released at once: no guarantee left.
    with pytest.raises(RuntimeError):
        invoice_number_next(year=2026)
    assert not InvoiceCounter.objects.exists()


@pytest.mark.django_db
@override_settings(INVOICE_TAX_RATE=Decimal("0"))
def test_zero_tax_rate_gives_no_vat(django_capture_on_commit_callbacks):
    from wetech.sales.leads import lead_capture
    from wetech.tests.lead_helpers import make_service

    _, invoice = lead_capture(
        name="A", email="a@example.com", phone="+255712345678", service=make_service()
    )
    assert (invoice.tax, invoice.total) == (Decimal("0.00"), Decimal("350000.00"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_issuers_get_gapless_unique_numbers(on_postgres):
    """Threads issue at once, each in its own connection; the counter row lock serialises them."""
    workers, per_worker = 8, 5
    drafts = [_draft(email=f"c{n}@example.com") for n in range(workers * per_worker)]
    barrier = threading.Barrier(workers)
    numbers, errors = [], []
    lock = threading.Lock()

    def work(chunk):
        try:
            barrier.wait()
            for draft in chunk:
                with transaction.atomic():
                    issued = invoice_issue(invoice=draft)
                with lock:
                    numbers.append(issued.number)
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(drafts[n::workers],)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    year = {re.match(r"WT-(\d{4})-\d{5}$", number).group(1) for number in numbers}
    assert len(year) == 1
    sequences = sorted(int(number[-5:]) for number in numbers)
    assert sequences == list(range(1, workers * per_worker + 1))
    stored = list(Invoice.objects.values_list("number", flat=True))
    assert len(stored) == len(set(stored)) == workers * per_worker
    assert InvoiceCounter.objects.get().last_number == workers * per_worker


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_leads_create_one_client_per_email(on_postgres):
    """Many submissions from one new person at once: one client row, every lead kept."""
    from wetech.sales.leads import lead_capture
    from wetech.tests.lead_helpers import make_service

    service = make_service()
    workers = 8
    barrier = threading.Barrier(workers)
    errors = []

    def work():
        try:
            barrier.wait()
            lead_capture(
                name="Asha", email="race@example.com", phone="+255712345678", service=service
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Client.objects.filter(email="race@example.com").count() == 1
    assert Invoice.objects.count() == workers
