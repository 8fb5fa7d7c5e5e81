"""Fault drill: a worker killed with SIGKILL in the middle of a settlement.

A separate Python process settles a pending Pesapal attempt that Pesapal reports as completed,
and kills itself from inside the settlement transaction, after the ledger entry was written and
before the invoice is marked paid. Nothing of it may survive; the reconciler then credits the
payment exactly once.
"""

import signal
import textwrap
from datetime import timedelta
from io import StringIO
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from wetech.models import Invoice, LedgerEntry, PaymentAttempt
from wetech.payments.gateways.base import PaymentStatus
from wetech.payments.reconcile import attempts_reconcile
from wetech.payments.start import payment_start
from wetech.tests.conftest import run_django
from wetech.tests.email_helpers import delivered
from wetech.tests.payment_helpers import configure_gateways, install_fakes, issued_invoice

Status = PaymentAttempt.Status

# Runs in the child process: the real settlement, with the step after the ledger insert
# (deriving the payments' flags, then the invoice's paid state) replaced by the worker's sudden
# death.
CRASHING_SETTLEMENT = textwrap.dedent(
    """
    import os, signal
    from wetech.payments.gateways.base import PaymentStatus
    from wetech.models import LedgerEntry, PaymentAttempt
    from wetech.payments import settlement
    from wetech.payments.gateways import pesapal as pesapal_gateway
    from wetech.payments.reconcile import attempt_recheck
    from wetech.tests.payment_helpers import FakePesapal

    attempt = PaymentAttempt.objects.get(pk={attempt_id})
    pesapal = FakePesapal()
    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    pesapal_gateway.get_pesapal_client = lambda: pesapal

    def killed(*, books, now, why):
        print("ledger entries inside the transaction:", LedgerEntry.objects.count(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    settlement.invoice_flags_derive = killed
    attempt_recheck(attempt=attempt)
    print("the worker survived", flush=True)
    """
)


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (
        f"postgres://{quote(db['USER'], safe='')}{password}@{db['HOST'] or '127.0.0.1'}"
        f":{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.mark.slow_drill
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_settlement_rolls_back_and_the_reconciler_credits_once(
    settings, monkeypatch
):
    configure_gateways(settings)
    pesapal, _ = install_fakes(monkeypatch)
    attempt = payment_start(invoice=issued_invoice(), gateway="pesapal").attempt
    invoice = attempt.invoice
    assert attempt.status == Status.PENDING

    crashed = run_django(
        "shell",
        "-c",
        CRASHING_SETTLEMENT.format(attempt_id=attempt.pk),
        env={"DATABASE_URL": _database_url()},
    )

    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert "ledger entries inside the transaction: 1" in crashed.stdout
    assert "survived" not in crashed.stdout
    # The whole settlement transaction rolled back: no money, no state change, no check noted.
    attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert not LedgerEntry.objects.exists()
    assert attempt.status == Status.PENDING
    assert attempt.check_count == 0
    assert attempt.last_checked_at is None
    assert invoice.status == Invoice.Status.ISSUED
    assert delivered() == []

    pesapal.answer(attempt, PaymentStatus.COMPLETED)
    out = StringIO()
    call_command("reconcile_payments", stdout=out)
    attempts_reconcile(now=timezone.now() + timedelta(hours=1))

    assert f"{attempt.merchant_reference} (pesapal): pending -> completed" in out.getvalue()
    attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert attempt.status == Status.COMPLETED
    assert invoice.status == Invoice.Status.PAID
    entry = LedgerEntry.objects.get()
    assert (entry.attempt_id, entry.kind, entry.amount) == (
        attempt.pk,
        LedgerEntry.Kind.PAYMENT,
        attempt.amount,
    )
    receipts = [message for message in delivered() if message.to == [invoice.client_email]]
    assert len(receipts) == 1
    assert receipts[0].subject.startswith(f"Receipt: invoice {invoice.number} paid")
