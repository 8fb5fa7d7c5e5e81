"""The IPN-settlement part of the load benchmark (called by bench/run.py).

Seeds 2 x ORDERS issued invoices, each with a pending Pesapal attempt (`BENCH-<n>` / `trk-<n>`),
serves a fake status endpoint that calls every order COMPLETED, then drives with wrk, in
alternating rounds, `GET /payments/pesapal/ipn/` (orders 1..ORDERS, each IPN for a distinct
order) and the bare settlement `/bench/bare-settlement/` (orders ORDERS+1..2 x ORDERS), then a
burst of duplicate IPNs for orders already settled. Reports settlements per second and checks
the ledger: one payment entry per settled order, none twice.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
ORDERS = 30000
AMOUNT = "413000.00"
LUA = ROOT / "bench" / "lua"

SEED = f"""
from decimal import Decimal
from django.utils import timezone
from wetech.models import Client, Invoice, PaymentAttempt
now = timezone.now()
client = Client.objects.create(name="Bench Customer", email="bench-ipn@example.co.tz",
                               phone="+255712000000")
total = Decimal("{AMOUNT}")
subtotal = (total / Decimal("1.18")).quantize(Decimal("0.01"))
invoices = Invoice.objects.bulk_create([
    Invoice(client=client, client_name="Bench Customer", client_email="bench-ipn@example.co.tz",
            client_phone="+255712000000", currency="TZS", subtotal=subtotal,
            tax_rate=Decimal("0.18"), tax=total - subtotal, total=total, status="issued",
            number=f"BENCH-{{n:06d}}", issued_at=now, due_date=now.date())
    for n in range(1, 2 * {ORDERS} + 1)
], batch_size=5000)
PaymentAttempt.objects.bulk_create([
    PaymentAttempt(invoice=invoice, gateway="pesapal", merchant_reference=f"BENCH-{{n}}",
                   gateway_reference=f"trk-{{n}}", amount=total, currency="TZS",
                   status="pending")
    for n, invoice in enumerate(invoices, start=1)
], batch_size=5000)
"""

COUNT = """
HALF = ORDERS_HALF
import json
from django.db.models import Count
from wetech.models import Invoice, LedgerEntry
every = LedgerEntry.objects.filter(kind="payment", gateway="pesapal")
twice = (every.values("gateway", "gateway_reference", "kind").annotate(n=Count("id"))
         .filter(n__gt=1).count())
# The IPN's orders are 1..ORDERS; the bare settlement's come after them.
numbers_of = lambda refs: [int(ref[4:]) for ref in refs]
all_refs = list(every.values_list("gateway_reference", flat=True))
ipn_refs = {ref for ref in all_refs if int(ref[4:]) <= ORDERS_ALL}
bare = len(all_refs) - len(ipn_refs)
paid = Invoice.objects.filter(status="paid", number__startswith="BENCH-").count()
# wrk's first thread settles trk-<first>, trk-<first+1>, ... in order (wrk spends one call of
# request() before the run, so <first> is 2): the settled run from there is what the duplicate
# burst replays.
settled = ipn_refs
numbers = sorted(int(ref[4:]) for ref in settled if int(ref[4:]) <= HALF)
first = numbers[0] if numbers else 1
run = 0
while f"trk-{first + run}" in settled:
    run += 1
print(json.dumps({
    "payments": len(ipn_refs), "bare": bare, "twice": twice, "paid": paid, "run": run,
    "first": first, "settled": sorted(settled)}))
"""


def django_shell(env: dict, code: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"manage.py shell failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def _count(env: dict, window: int) -> dict:
    code = COUNT.replace("ORDERS_HALF", str(window // 2)).replace("ORDERS_ALL", str(ORDERS))
    return json.loads(django_shell(env, code))


def measure(
    *, env, seconds, rounds, workdir, site_port, gateway_port, wrk, process, median_round
) -> dict:
    django_shell(env, SEED)
    fake = [
        PYTHON,
        str(ROOT / "bench" / "fake_pesapal.py"),
        "--port",
        str(gateway_port),
        "--amount",
        AMOUNT,
    ]
    # Each round settles orders of its own window: never an order another round already paid.
    window = ORDERS // rounds
    ipn_rounds, bare_rounds = [], []
    with process(fake, env, workdir / "fake-pesapal.log"):
        from bench.run import wait_for_port

        wait_for_port(gateway_port)
        for index in range(rounds):
            for path, offset, measured in (
                ("/payments/pesapal/ipn/", index * window, ipn_rounds),
                ("/bench/bare-settlement/", ORDERS + index * window, bare_rounds),
            ):
                measured.append(
                    wrk(
                        path,
                        seconds=seconds,
                        script=LUA / "ipn.lua",
                        env={
                            "IPN_ORDERS": str(window),
                            "IPN_OFFSET": str(offset),
                            "IPN_PATH": path,
                        },
                    )
                )
        time.sleep(1)  # let requests still in the workers when wrk stopped finish
        after_distinct = _count(env, window)
        duplicate_seconds = max(2, seconds // 2)
        duplicates = wrk(
            "/payments/pesapal/ipn/",
            seconds=duplicate_seconds,
            script=LUA / "ipn.lua",
            env={
                "IPN_ORDERS": str(max(after_distinct["run"], 1)),
                "IPN_FIRST": str(after_distinct["first"]),
                "IPN_DUPLICATES": "1",
            },
        )
        time.sleep(1)
        after_duplicates = _count(env, window)
    if max(r["rps"] for r in ipn_rounds + bare_rounds) * seconds >= window // 2:
        print(
            f"warning: a round may have run out of its {window} orders; raise ORDERS",
            file=sys.stderr,
        )
    settled_per_second = after_distinct["payments"] / (seconds * rounds)
    late = set(after_duplicates["settled"]) - set(after_distinct["settled"])
    summary = (
        f"{after_distinct['payments']} distinct orders settled by IPN in {rounds} rounds of "
        f"{seconds} s (~{settled_per_second:.0f} settlements/s), "
        f"{after_distinct['bare']} by the bare settlement; then "
        f"~{duplicates['rps'] * duplicate_seconds:.0f} duplicate IPNs at "
        f"{duplicates['rps']:.0f}/s replaying the {after_distinct['run']} orders settled first: "
        f"IPN ledger payment entries {after_duplicates['payments']} "
        f"(+{len(late)} for orders not replayed, {', '.join(sorted(late)[:3]) or 'none'}: "
        "IPNs still in the workers at the first count), entries written twice: "
        f"{after_duplicates['twice']}, invoices paid: {after_duplicates['paid']} "
        f"(IPN and bare)"
    )
    return {
        "bare settlement": median_round(bare_rounds),
        "IPN settlement (distinct orders)": median_round(ipn_rounds),
        "IPN duplicates (already settled)": {**duplicates},
        "IPN ledger check": {"summary": summary},
    }
