"""The data migration that turns today's flags into open review cases."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("wetech", "0006_outbox")]
AFTER = [("wetech", "0007_review_cases_from_flags")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_the_latest_schema():
    yield
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_flags_become_open_review_cases_once(back_to_the_latest_schema):
    apps = _migrate(BEFORE)
    Client = apps.get_model("wetech", "Client")
    Invoice = apps.get_model("wetech", "Invoice")
    PaymentAttempt = apps.get_model("wetech", "PaymentAttempt")
    ReviewCase = apps.get_model("wetech", "ReviewCase")
    client = Client.objects.create(name="Asha", email="asha@example.co.tz", phone="+255712345678")
    now = timezone.now()

    def invoice(number, status):
        return Invoice.objects.create(
            client=client,
            number=number,
            client_name="Asha",
            client_email="asha@example.co.tz",
            client_phone="+255712345678",
            subtotal=Decimal("100"),
            total=Decimal("100"),
            status=status,
            issued_at=now,
        )

    def attempt(inv, reference, **fields):
        return PaymentAttempt.objects.create(
            invoice=inv,
            gateway="pesapal",
            merchant_reference=reference,
            amount=Decimal("100"),
            currency="TZS",
            **fields,
        )

    mismatched = invoice("WT-2026-00001", "needs_review")
    attempt(
        mismatched,
        "WT-2026-00001-A",
        status="needs_review",
        status_detail="Gateway reports completed, but amount 50.00 instead of 100.00",
    )
    reversed_then_mismatched = invoice("WT-2026-00002", "issued")
    attempt(reversed_then_mismatched, "WT-2026-00002-A", status="needs_review")
    paid = invoice("WT-2026-00003", "paid")
    attempt(paid, "WT-2026-00003-A", status="completed")
    twice = attempt(paid, "WT-2026-00003-B", status="completed", needs_refund=True)
    void = invoice("WT-2026-00004", "void")
    on_void = attempt(void, "WT-2026-00004-A", status="completed", needs_refund=True)
    already = ReviewCase.objects.create(
        invoice=paid, attempt=twice, kind="paid_twice", summary="opened by hand"
    )

    apps = _migrate(AFTER)

    ReviewCase = apps.get_model("wetech", "ReviewCase")
    Invoice = apps.get_model("wetech", "Invoice")
    AuditEntry = apps.get_model("wetech", "AuditEntry")
    cases = {
        (case.attempt.merchant_reference, case.kind): case
        for case in ReviewCase.objects.select_related("attempt")
    }
    assert sorted(cases) == [
        ("WT-2026-00001-A", "mismatch"),
        ("WT-2026-00002-A", "mismatch"),
        ("WT-2026-00003-B", "paid_twice"),
        ("WT-2026-00004-A", "void_invoice"),
    ]
    assert all(case.status == "open" for case in cases.values())
    first = cases[("WT-2026-00001-A", "mismatch")]
    assert first.summary == "Gateway reports completed, but amount 50.00 instead of 100.00"
    assert first.expected["amount"] == "100.00"
    assert cases[("WT-2026-00003-B", "paid_twice")].pk == already.pk
    assert cases[("WT-2026-00004-A", "void_invoice")].attempt_id == on_void.pk
    assert AuditEntry.objects.filter(action="review_opened", actor="system").count() == 3
    statuses = dict(Invoice.objects.values_list("number", "status"))
    assert statuses == {
        "WT-2026-00001": "needs_review",
        "WT-2026-00002": "needs_review",
        "WT-2026-00003": "paid",
        "WT-2026-00004": "void",
    }
