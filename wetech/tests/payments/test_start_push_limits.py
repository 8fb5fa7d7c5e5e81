"""The AzamPay push limit per phone holds under concurrency (PostgreSQL: an advisory lock).

One invoice's pushes already queue on its row lock; pushes to one phone for many invoices
do not, so they queue on a lock of their own.
"""

import threading

import pytest
from django.db import connection

from wetech.models import PaymentAttempt
from wetech.payments.start import PushLimited, payment_start
from wetech.tests.payment_helpers import issued_invoice


def _race(workers, start):
    barrier = threading.Barrier(workers)
    outcomes, lock = [], threading.Lock()

    def work(n):
        try:
            barrier.wait()
            start(n)
            result = "pushed"
        except PushLimited as exc:
            result = f"limited per {exc.limit}"
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            result = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_pushes_to_one_phone_on_many_invoices_stop_at_five(on_postgres, azampay):
    invoices = [issued_invoice(email=f"c{n}@example.co.tz") for n in range(8)]

    outcomes = _race(
        8,
        lambda n: payment_start(
            gateway="azampay", invoice=invoices[n], phone="+255712345678", provider="Mpesa"
        ),
    )

    assert outcomes == ["limited per phone"] * 3 + ["pushed"] * 5
    assert PaymentAttempt.objects.filter(payer_phone="+255712345678").count() == 5
    assert len(azampay.pushes) == 5
