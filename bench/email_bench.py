"""The worker's email throughput: emails queued in the outbox, delivered by a real
`manage.py worker` to a local SMTP server (aiosmtpd, in this process), timed.

    make bench                                   # after bench/run.py
    .venv/bin/python bench/email_bench.py        # SQLite (embedded queue), PostgreSQL + Redis
    .venv/bin/python bench/email_bench.py --engines sqlite --emails 200 --threads 2

For each database engine and each worker thread count, two rounds, each with the worker stopped
while the emails are queued (so the queue is full when it starts):

- lead emails: EMAILS / 2 leads captured for a priced service with `lead_capture` (each queues
  staff's email and the customer's acknowledgement: EMAILS emails, plain text);
- receipts: RECEIPTS receipts of a paid invoice, each with the invoice's PDF, drawn by the worker.

Then `manage.py worker --workers T` is started and timed from its launch until the SMTP server
has accepted every email ("wall", the worker's start-up included) and from the first message
accepted to the last ("steady"). Checked after each round: every email arrived once (as many
messages as emails, as many distinct Message-IDs), and every outbox row is marked sent.
Only 127.0.0.1 is contacted. Writes its section of bench/results.md.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results_section import write_section  # noqa: E402
from bench.run import HOST, PG_DATABASE, PYTHON, REDIS_DB, base_env, manage, port_open  # noqa: E402

PG_EMAIL_DATABASE = f"{PG_DATABASE}_email"
SMTP_PORT = int(os.environ.get("BENCH_SMTP_PORT", "8125"))

QUEUE_LEAD_EMAILS = """
from wetech.models import Service
from wetech.sales.leads import lead_capture
service = Service.objects.filter(price__isnull=False, active=True).order_by("pk").first()
for n in range(LEADS):
    lead_capture(name=f"Bench Customer {n}", email=f"mail-bench-{ROUND}-{n}@example.co.tz",
                 phone=f"+2557{ROUND % 10}{n:07d}", service=service)
"""

QUEUE_RECEIPTS = """
from decimal import Decimal
from django.utils import timezone
from wetech.models import Client, Invoice, InvoiceLine, LedgerEntry, PaymentAttempt
from wetech.payments.emails import receipt_email_send
from wetech.sales.invoicing import invoice_issue
client = Client.objects.create(name="Receipt Customer", email="receipts-ROUND@example.co.tz",
                               phone="+255713000000")
invoice = Invoice.objects.create(client=client, client_name=client.name, client_email=client.email,
                                 client_phone=client.phone, tax_rate=Decimal("0.18"))
InvoiceLine.objects.create(invoice=invoice, description="Business website",
                           unit_price=Decimal("350000"))
invoice = invoice_issue(invoice=invoice)
attempt = PaymentAttempt.objects.create(
    invoice=invoice, gateway="pesapal", merchant_reference="RCPT-ROUND",
    gateway_reference="rcpt-ROUND", amount=invoice.total, currency="TZS", status="completed",
    completed_at=timezone.now(), confirmation_code="CONFRCPT", payment_method="Visa")
LedgerEntry.objects.create(invoice=invoice, attempt=attempt, kind="payment", amount=invoice.total,
                           currency="TZS", gateway="pesapal", gateway_reference="rcpt-ROUND")
Invoice.objects.filter(pk=invoice.pk).update(status="paid", paid_at=timezone.now())
attempt.refresh_from_db()
for _ in range(RECEIPTS):
    receipt_email_send(attempt=attempt)
"""

COUNT_SENT = """
from wetech.models import OutgoingEmail
print(OutgoingEmail.objects.filter(status="sent").count(), OutgoingEmail.objects.count())
"""


class Sink:
    """Accepts every message; keeps the time and Message-ID of each."""

    def __init__(self, port: int):
        self.port = port
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, str]] = []
        self._controller = Controller(self, hostname=HOST, port=port)

    async def handle_DATA(self, server, session, envelope):
        message_id = ""
        for line in envelope.content.split(b"\r\n"):
            if not line:
                break
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
        with self.lock:
            self.arrivals.append((time.monotonic(), message_id))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def reset(self) -> None:
        with self.lock:
            self.arrivals = []

    def __enter__(self):
        self._controller.start()
        return self

    def __exit__(self, *exc):
        self._controller.stop()


def shell(env: dict, code: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def prepare(engine: str, workdir: Path) -> dict:
    env = base_env(engine, workdir)
    env["EMAIL_URL"] = f"smtp://{HOST}:{SMTP_PORT}"
    env["STAFF_EMAILS"] = "sales@wetech.co.tz"
    if engine == "postgres":
        env["DATABASE_URL"] = f"postgres://postgres@{HOST}:5432/{PG_EMAIL_DATABASE}"
        psql = ["psql", "-q", "-h", HOST, "-U", "postgres", "-d", "postgres", "-c"]
        subprocess.run([*psql, f"DROP DATABASE IF EXISTS {PG_EMAIL_DATABASE}"], check=True)
        subprocess.run([*psql, f"CREATE DATABASE {PG_EMAIL_DATABASE}"], check=True)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    return env


def flush_queue(env: dict) -> None:
    if env.get("REDIS_URL"):
        subprocess.run(["redis-cli", "-n", REDIS_DB, "FLUSHDB"], check=True, capture_output=True)


def deliver(env: dict, sink: Sink, *, expected: int, threads: int, log: Path) -> dict:
    """Start a worker on the full queue; time it until the sink holds `expected` messages."""
    sink.reset()
    with open(log, "wb") as out:
        started = time.monotonic()
        worker = subprocess.Popen(
            [PYTHON, "manage.py", "worker", "--workers", str(threads)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = started + 600
        while sink.count() < expected and time.monotonic() < deadline:
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited ({worker.returncode}); see {log}")
            time.sleep(0.02)
        done = time.monotonic()
        time.sleep(1)  # anything sent twice would arrive now
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    with sink.lock:
        arrivals = list(sink.arrivals)
    times = [t for t, _ in arrivals]
    steady = times[-1] - times[0] if len(times) > 1 else 0.0
    sent, rows = map(int, shell(env, COUNT_SENT).split())
    return {
        "emails": expected,
        "received": len(arrivals),
        "distinct": len({message_id for _, message_id in arrivals}),
        "wall": done - started,
        "steady": steady,
        "per_second_wall": expected / (done - started),
        "per_second_steady": (len(times) - 1) / steady if steady else 0.0,
        "sent_rows": sent,
        "rows": rows,
    }


def run_engine(engine: str, *, emails: int, receipts: int, threads: list[int], workdir: Path):
    env = prepare(engine, workdir)
    rows = []
    with Sink(SMTP_PORT) as sink:
        for round_number, count in enumerate(threads):
            for kind, code, expected in (
                ("lead emails", QUEUE_LEAD_EMAILS.replace("LEADS", str(emails // 2)), emails),
                ("receipts with PDF", QUEUE_RECEIPTS.replace("RECEIPTS", str(receipts)), receipts),
            ):
                if not expected:
                    continue
                flush_queue(env)
                before = shell(env, COUNT_SENT).split()
                shell(env, code.replace("ROUND", str(round_number)))
                measured = deliver(
                    env,
                    sink,
                    expected=expected,
                    threads=count,
                    log=workdir / f"worker-{engine}-{kind.split()[0]}-{count}.log",
                )
                # Rows of earlier rounds were sent then: what this round added must all be sent.
                measured["sent_rows"] -= int(before[0])
                measured["rows"] -= int(before[1])
                rows.append({"kind": kind, "threads": count, **measured})
                print(engine, rows[-1], flush=True)
    return rows


def render(results: dict, *, emails: int, receipts: int) -> str:
    lines = [
        f"`manage.py worker` delivering a full queue to a local SMTP server (aiosmtpd in the "
        f"benchmark's process, loopback), {os.cpu_count()} CPUs shared with the database and "
        f"the SMTP server. Lead emails: {emails} (staff's email and the acknowledgement of "
        f"{emails // 2} leads, plain text); receipts: {receipts}, each with the invoice PDF drawn "
        "by the worker. Wall = from the worker's launch (Python and Django start-up included) "
        "to the last message accepted; steady = first message to last. One SMTP connection per "
        "email (Django's `EmailMessage.send()`).",
        "",
        "| database / queue | emails | worker threads | wall s | emails/s (wall) "
        "| emails/s (steady) | received once | rows marked sent |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for label, rows in results.items():
        for row in rows:
            once = (
                "yes"
                if row["received"] == row["distinct"] == row["emails"]
                else f"**no**: {row['received']} received, {row['distinct']} distinct"
            )
            lines.append(
                f"| {label} | {row['emails']} {row['kind']} | {row['threads']} | "
                f"{row['wall']:.1f} | {row['per_second_wall']:.0f} | "
                f"{row['per_second_steady']:.0f} | {once} | {row['sent_rows']} of {row['rows']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--emails", type=int, default=1000, help="lead emails per round (even)")
    parser.add_argument("--receipts", type=int, default=100)
    parser.add_argument("--threads", default="2,8", help="worker threads, one round each")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    threads = [int(count) for count in args.threads.split(",")]
    if port_open(SMTP_PORT):
        raise SystemExit(f"port {SMTP_PORT} is taken: set BENCH_SMTP_PORT")
    results = {}
    with tempfile.TemporaryDirectory(prefix="wetech-email-bench-") as tmp:
        for engine in args.engines.split(","):
            if engine == "postgres" and not port_open(5432):
                print("PostgreSQL does not answer on 127.0.0.1:5432; skipped")
                continue
            workdir = Path(tmp) / engine
            workdir.mkdir()
            label = (
                "PostgreSQL" + (" + Redis" if port_open(6379) else " + SQLite queue")
                if engine == "postgres"
                else "SQLite + SQLite queue"
            )
            results[label] = run_engine(
                engine,
                emails=args.emails,
                receipts=args.receipts,
                threads=threads,
                workdir=workdir,
            )
    body = render(results, emails=args.emails, receipts=args.receipts)
    print(body)
    if not args.no_write:
        write_section("Worker email throughput", body, script="email_bench.py")


if __name__ == "__main__":
    main()
