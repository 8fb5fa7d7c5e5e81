"""Where a lead and an IPN settlement spend their time: cProfile, in-process, through the site's
whole WSGI stack (middleware included) with the production settings of the benchmark.

    .venv/bin/python bench/profile_requests.py                    # SQLite, 300 of each
    .venv/bin/python bench/profile_requests.py --engine postgres --requests 500

Leads are POSTed like a browser (the service page's hidden fields and CSRF cookie, a distinct
email and client address each); IPNs each name a distinct order, answered COMPLETED by the fake
Pesapal status endpoint (bench/fake_pesapal.py) on loopback. Prints, per request, the
cumulative time of the parts worth knowing and the statements counted, then cProfile's top
functions. Only 127.0.0.1 is contacted.
"""

import argparse
import cProfile
import io
import os
import pstats
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import HOST, base_env, port_open  # noqa: E402

# (label, file fragment, function name): cumulative time of these, per request.
PARTS = [
    ("the whole request (WSGI handler)", "django/core/handlers/base.py", "get_response"),
    ("rate limits (cache)", "django_ratelimit/decorators.py", "_wrapped"),
    ("CSRF check", "django/middleware/csrf.py", "process_view"),
    ("form validation (LeadForm.full_clean)", "django/forms/forms.py", "full_clean"),
    (
        "lead_capture (client, lead, invoice, line, number, emails)",
        "sales/leads.py",
        "lead_capture",
    ),
    ("  invoice_create_for_lead", "sales/invoicing.py", "invoice_create_for_lead"),
    ("  lead_emails_schedule (2 outbox rows)", "sales/emails.py", "lead_emails_schedule"),
    ("notification_record (the inbox row)", "payments/inbox.py", "notification_record"),
    ("gateway status call (HTTP to the fake)", "gateways/pesapal.py", "get_transaction_status"),
    (
        "attempt_settle (locks, ledger, flags, invoice, attempt, emails)",
        "settlement.py",
        "attempt_settle",
    ),
    ("  paid_emails_schedule (2 outbox rows)", "payments/emails.py", "paid_emails_schedule"),
    ("on_commit: enqueue the email tasks (Huey)", "wetech/tasks.py", "_email_deliver_soon"),
    ("all SQL statements (cursor execute)", "django/db/backends/utils.py", "_execute"),
    ("the database's commits", "django/db/backends/base/base.py", "commit"),
    ("request log line and Server-Timing", "middleware/performance.py", "__call__"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for_port_of(port: int) -> None:
    deadline = time.monotonic() + 20
    while not port_open(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"the fake gateway did not answer on {port}")
        time.sleep(0.05)


def configure(engine: str, workdir: Path, gateway_port: int) -> None:
    env = base_env(engine, workdir)
    if engine == "postgres":
        env["DATABASE_URL"] = f"postgres://postgres@{HOST}:5432/wetech_bench_profile"
        psql = ["psql", "-q", "-h", HOST, "-U", "postgres", "-d", "postgres", "-c"]
        subprocess.run([*psql, "DROP DATABASE IF EXISTS wetech_bench_profile"], check=True)
        subprocess.run([*psql, "CREATE DATABASE wetech_bench_profile"], check=True)
    env["PESAPAL_BASE_URL"] = f"http://{HOST}:{gateway_port}"
    env["STAFF_EMAILS"] = "sales@wetech.co.tz"
    for key in list(os.environ):
        if key not in env:
            del os.environ[key]
    os.environ.update(env)


def seed_orders(count: int) -> None:
    from decimal import Decimal

    from django.utils import timezone

    from wetech.models import Client, Invoice, PaymentAttempt

    now = timezone.now()
    client = Client.objects.create(
        name="Profile Customer", email="profile@example.co.tz", phone="+255712000001"
    )
    total = Decimal("413000.00")
    invoices = Invoice.objects.bulk_create(
        Invoice(
            client=client,
            client_name=client.name,
            client_email=client.email,
            client_phone=client.phone,
            currency="TZS",
            subtotal=Decimal("350000.00"),
            tax_rate=Decimal("0.18"),
            tax=Decimal("63000.00"),
            total=total,
            status="issued",
            number=f"BENCH-{n:06d}",
            issued_at=now,
            due_date=now.date(),
        )
        for n in range(1, count + 1)
    )
    PaymentAttempt.objects.bulk_create(
        PaymentAttempt(
            invoice=invoice,
            gateway="pesapal",
            merchant_reference=f"BENCH-{n}",
            gateway_reference=f"trk-{n}",
            amount=total,
            currency="TZS",
            status="pending",
        )
        for n, invoice in enumerate(invoices, start=1)
    )


def profile(label: str, calls) -> tuple[cProfile.Profile, float]:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for call in calls:
        call()
    profiler.disable()
    return profiler, time.perf_counter() - started


def report(label: str, profiler: cProfile.Profile, elapsed: float, count: int, queries: int):
    stats = pstats.Stats(profiler)
    print(f"\n## {label}: {count} requests, {elapsed / count * 1000:.2f} ms each under cProfile")
    print(f"statements per request: {queries / count:.1f}\n")
    print("| part | ms per request (cumulative, under cProfile) |")
    print("|---|---:|")
    for name, fragment, function in PARTS:
        total = sum(
            entry[3]
            for (filename, _line, func), entry in stats.stats.items()
            if func == function and fragment in filename
        )
        if total:
            print(f"| {name} | {total / count * 1000:.2f} |")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    text = re.sub(r"/\S*/site-packages/", "", out.getvalue())
    text = text.replace(str(ROOT) + "/", "")
    print("\ncProfile, top 15 by own time:\n```")
    print(text[text.find("   ncalls") :].rstrip())
    print("```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--dump", help="also write each profile to DUMP-<n>.prof (for pstats)")
    parser.add_argument("--sql", action="store_true", help="print the statements of one of each")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="only the unprofiled times beside the bare references (e.g. under py-spy)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wetech-profile-") as tmp:
        # The fake gateway in a process of its own, as in the load benchmark: a thread here
        # would take the GIL from the profiled requests.
        gateway_port = free_port()
        fake = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "fake_pesapal.py"),
                "--port",
                str(gateway_port),
                "--amount",
                "413000.00",
            ],
        )
        try:
            configure(args.engine, Path(tmp), gateway_port)
            wait_for_port_of(gateway_port)
            run(args)
        finally:
            fake.terminate()
            fake.wait(timeout=10)


def run(args) -> None:

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # the manifest storage needs it
    call_command("seed_demo", verbosity=0)
    seed_orders(3 * args.requests + 10)
    browser = Client(enforce_csrf_checks=True, HTTP_HOST=HOST)
    page = browser.get("/").content.decode()
    service = re.search(r'href="(/services/[^"]+/)"', page).group(1)
    html = browser.get(service).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))

    def lead(n: int, path="/leads/"):
        def post():
            response = browser.post(
                path,
                {
                    **fields,
                    "name": f"Profile Customer {n}",
                    "email": f"profile{n}@example.co.tz",
                    "phone": f"+255712{n:06d}",
                    "company": "Profile Ltd",
                    "message": "Tunahitaji tovuti mpya",
                },
                HTTP_X_FORWARDED_FOR=f"198.18.{n // 250 % 250}.{n % 250 + 1}",
            )
            assert response.status_code in (200, 303), response.status_code

        return post

    def ipn(n: int, path="/payments/pesapal/ipn/"):
        def get():
            response = browser.get(
                path,
                {
                    "OrderTrackingId": f"trk-{n}",
                    "OrderMerchantReference": f"BENCH-{n}",
                    "OrderNotificationType": "IPNCHANGE",
                },
            )
            assert response.status_code == 200 and response.json()["status"] == 200

        return get

    for warm in (lead(0), ipn(3 * args.requests + 5)):
        warm()  # first-call costs (templates, tokens, connections) out of the profile
    references = {
        "POST /leads/": "/bench/bare-lead/",
        "Pesapal IPN settlement": "/bench/bare-settlement/",
    }
    for label, make in (("POST /leads/", lead), ("Pesapal IPN settlement", ipn)):
        # First unprofiled, beside the bare reference of the load benchmark (bench/views.py),
        # alternating in rounds: the real times, cProfile's overhead aside, and their ratio.
        timings = {"site": 0.0, "bare": 0.0}
        rounds = 4
        per_round = args.requests // rounds
        for first in range(args.requests + 1, 2 * args.requests + 1, per_round):
            numbers = range(first, min(first + per_round, 2 * args.requests + 1))
            for which, path, offset in (
                ("site", None, 0),
                ("bare", references[label], args.requests),
            ):
                started = time.perf_counter()
                for n in numbers:
                    (make(n + offset, path) if path else make(n + offset))()
                timings[which] += time.perf_counter() - started
        site, bare = (timings[k] / args.requests * 1000 for k in ("site", "bare"))
        print(
            f"\n{label}: {site:.2f} ms each without the profiler; its bare reference"
            f" {bare:.2f} ms; ratio (bare / site, as in the load benchmark) {bare / site:.2f}"
        )
        if args.plain:
            continue
        calls = [make(n) for n in range(1, args.requests + 1)]
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            profiler, elapsed = profile(label, calls)
        report(label, profiler, elapsed, len(calls), len(queries))
        if args.sql:
            per = len(queries) // len(calls)
            print("\nThe statements of the last one, with each one's mean time over all:\n```")
            captured = queries.captured_queries[: per * len(calls)]
            for position, query in enumerate(captured[-per:]):
                mean = sum(float(q["time"]) for q in captured[position::per]) / len(calls)
                print(f"{mean * 1000:6.2f} ms  {query['sql'][:140]}")
            print("```")
        if args.dump:
            profiler.dump_stats(f"{args.dump}-{'lead' if make is lead else 'ipn'}.prof")


if __name__ == "__main__":
    main()
