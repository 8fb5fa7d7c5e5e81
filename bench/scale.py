"""The back office at scale: seed N invoices with their history on PostgreSQL, then time every
admin list, search and change page, the dashboard and the integrity audit.

    make bench-scale N=200000
    .venv/bin/python bench/scale.py --invoices 10000 --label after

The data goes to its own database (`SCALE_DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/wetech_scale_bench), created and migrated when missing and
seeded again only when it does not hold N invoices (or with `--reseed`). Seeding writes with
COPY in batches, ids assigned here, so 200,000 invoices and their ~2 million rows of history
(clients, leads, lines, attempts, ledger, notifications, review cases, refunds, credit notes,
audit entries, emails) take a few minutes on 2 cores. The data is consistent: the integrity
audit finds nothing in it.

Pages are fetched through Django's test Client as a logged-in superuser with the production
settings (DEBUG off), in-process, so the times are the server's alone: one warm-up, then the
median of `--rounds` fetches, with the number of queries of the last one and its slowest query.
The table is printed and written into bench/results.md under its own heading (one per N and
label). Never part of `make test`.
"""

import argparse
import io
import json
import os
import random
import secrets
import statistics
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/wetech_scale_bench"
SCRIPT = "scale.py"


def configure(database_url: str) -> None:
    """Production settings (DEBUG off) with what an in-process test Client needs."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "wetechnologies.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-scale-" + "x" * 40,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_MANIFEST": "false",
            "EMAIL_URL": "consolemail://",
            # One connection for the whole run (the test Client closes it after each request).
            "DB_CONN_MAX_AGE": "0",
        }
    )
    os.environ.pop("REDIS_URL", None)


def database_ensure(database_url: str, *, anew: bool = False) -> None:
    """Create the bench's database if it is missing (dropped first with `anew`)."""
    import psycopg2

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        if anew:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def schema_migrate(database_url: str) -> None:
    """Migrate the bench's database; one whose schema the migrations no longer describe (a
    migration renumbered since it was applied) is made again from scratch: it is scratch data."""
    from django.core.management import call_command
    from django.db import DatabaseError, connection
    from django.db.migrations.exceptions import InconsistentMigrationHistory

    try:
        call_command("migrate", verbosity=0)
    except (DatabaseError, InconsistentMigrationHistory) as exc:
        print(f"the bench database does not match the migrations ({exc}): making it anew")
        connection.close()
        database_ensure(database_url, anew=True)
        call_command("migrate", verbosity=0)


# --- Seeding ------------------------------------------------------------------------------------

FIRST_NAMES = [
    "Amina",
    "Baraka",
    "Neema",
    "Juma",
    "Rehema",
    "Hamisi",
    "Zawadi",
    "Salim",
    "Upendo",
    "Faraja",
    "Imani",
    "Mwajuma",
    "Khamis",
    "Asha",
    "Daudi",
    "Halima",
    "Rashidi",
    "Mariamu",
    "Jabiri",
    "Tumaini",
    "Emmanuel",
    "Grace",
    "Joseph",
    "Esther",
    "Peter",
    "Agnes",
    "John",
    "Catherine",
    "Elia",
    "Witness",
    "Godfrey",
    "Happiness",
    "Frank",
    "Lucy",
    "Hassani",
    "Zuhura",
    "Omari",
    "Saida",
    "Musa",
    "Subira",
]
LAST_NAMES = [
    "Mwakyusa",
    "Kimaro",
    "Massawe",
    "Mushi",
    "Lyimo",
    "Shirima",
    "Mollel",
    "Laizer",
    "Kweka",
    "Temba",
    "Swai",
    "Urio",
    "Mrema",
    "Mfinanga",
    "Ngowi",
    "Mallya",
    "Minja",
    "Kessy",
    "Komba",
    "Nyerere",
    "Mbwambo",
    "Kilonzo",
    "Mwinyi",
    "Salum",
    "Said",
    "Abdallah",
    "Mohamed",
    "Ali",
    "Hassan",
    "Kaduma",
    "Chande",
    "Mkapa",
    "Makamba",
    "Mwansasu",
    "Kapinga",
    "Haule",
    "Ngonyani",
    "Mapunda",
]
COMPANY_WORDS = [
    "Kilimanjaro",
    "Serengeti",
    "Zanzibar",
    "Pwani",
    "Tanga",
    "Mbeya",
    "Arusha",
    "Mwanza",
    "Dodoma",
    "Bahari",
    "Nyota",
    "Jua",
    "Simba",
    "Twiga",
    "Tembo",
    "Upendo",
    "Umoja",
    "Amani",
    "Faraja",
    "Baraka",
]
COMPANY_KINDS = (
    "Traders",
    "Logistics",
    "Hardware",
    "Pharmacy",
    "Hotel",
    "Tours",
    "Foods",
    "Consultants",
    "Motors",
    "Academy",
    "Clinic",
    "Agro",
    "Builders",
    "Fashion",
)
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "wetech-client.co.tz")
SOURCE_PAGES = (
    "/",
    "/services/business-website/",
    "/services/online-shop/",
    "/services/mobile-app/",
    "/services/web-hosting/",
    "/contact/",
    "/about/",
)
UTM_SOURCES = ("", "", "", "google", "facebook", "instagram", "newsletter", "linkedin", "whatsapp")
MESSAGES = (
    "Habari, tunahitaji tovuti ya kampuni yetu yenye kurasa tano na fomu ya mawasiliano.",
    "We would like an online shop that takes M-Pesa and Airtel Money. Please call me.",
    "Please send a quotation for hosting and ten email accounts for our office in Arusha.",
    "Tunataka app ya simu kwa wateja wetu wa mikoani, inayofanya kazi bila mtandao.",
    "Our current website is slow on phones. Can you redesign it before the new season?",
)
PESAPAL_METHODS = ("MpesaTZ", "AirtelTZ", "TigopesaTZ", "Visa", "MasterCard")
AZAM_PROVIDERS = ("Airtel", "Tigo", "Halopesa", "Azampesa", "Mpesa")
TAX_RATE = Decimal("0.18")
CENT = Decimal("0.01")
BATCH = 50_000


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        text = value
    elif isinstance(value, datetime | date):
        return value.isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"))
    else:
        return str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


class Table:
    """Rows of one model written with COPY in batches; ids are given by the seeder."""

    def __init__(self, model, fields: str, cursor):
        self.model = model
        self.cursor = cursor
        names = fields.split()
        meta = model._meta
        self.columns = [meta.get_field(name).column for name in names]
        given = {meta.get_field(name).column for name in names}
        self.given = len(names)
        # Columns left out take their field's (constant) default: Django sets no DB defaults.
        self.constant = []
        for field in meta.concrete_fields:
            if field.column in given:
                continue
            if field.has_default():
                if callable(field.default) and field.default not in (dict, list):
                    raise ValueError(f"{meta.label}.{field.name} needs a value per row")
                default = field.get_default()
            elif field.null:
                default = None
            elif field.blank and field.get_internal_type() in ("CharField", "TextField"):
                default = ""
            else:
                raise ValueError(f"{meta.label}.{field.name} has no default: give it")
            self.columns.append(field.column)
            self.constant.append(default)
        self.tail = "".join("\t" + _copy_text(value) for value in self.constant)
        self.buffer: list[str] = []
        self.count = 0
        self.next_id = 1

    def new_id(self) -> int:
        pk = self.next_id
        self.next_id += 1
        return pk

    def add(self, *values) -> None:
        # Flushed before, not after: the row just added stays in the buffer (`attempt_status`).
        if len(self.buffer) >= BATCH:
            self.flush()
        if len(values) != self.given:
            raise ValueError(f"{self.model._meta.label}: {len(values)} values for {self.given}")
        self.buffer.append("\t".join(map(_copy_text, values)) + self.tail)
        self.count += 1

    def flush(self) -> None:
        if not self.buffer:
            return
        columns = ", ".join(f'"{column}"' for column in self.columns)
        data = io.StringIO("\n".join(self.buffer) + "\n")
        self.cursor.copy_expert(f'COPY "{self.model._meta.db_table}" ({columns}) FROM STDIN', data)
        self.buffer.clear()


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT)


class Seeder:
    """Invoices and their history over the last two years, consistent with the ledger rules."""

    def __init__(self, *, invoices: int, cursor, now: datetime):
        from wetech import models as m

        self.m = m
        self.n = invoices
        self.now = now
        self.rng = random.Random(12)
        t = lambda model, fields: Table(model, fields, cursor)  # noqa: E731
        self.clients = t(m.Client, "id name email phone company created_at")
        self.leads = t(
            m.Lead,
            "id client_id service_id name email phone company tin message source_page "
            "landing_page referrer utm_source utm_medium utm_campaign marketing_consent "
            "consent_at consent_ip status created_at",
        )
        self.invoices = t(
            m.Invoice,
            "id number token client_id lead_id client_name client_email client_phone "
            "client_company client_tin currency subtotal tax_rate tax total status issued_at "
            "due_date paid_at created_at updated_at",
        )
        self.lines = t(
            m.InvoiceLine, "id invoice_id position description quantity unit_price amount"
        )
        self.attempts = t(
            m.PaymentAttempt,
            "id invoice_id gateway merchant_reference gateway_reference amount currency "
            "payer_phone provider status status_detail confirmation_code payment_method "
            "needs_refund last_checked_at check_count expires_at completed_at created_at "
            "updated_at",
        )
        self.ledger = t(
            m.LedgerEntry,
            "id invoice_id attempt_id kind amount currency gateway gateway_reference "
            "confirmation_code created_at",
        )
        self.notifications = t(
            m.GatewayNotification,
            "id gateway kind method headers query_string body remote_ip received_at attempt_id "
            "result processed_at",
        )
        self.cases = t(
            m.ReviewCase,
            "id invoice_id attempt_id kind status summary gateway_said expected decision "
            "resolution_reason resolved_by opened_at resolved_at",
        )
        self.refunds = t(
            m.Refund,
            "id invoice_id attempt_id reference amount currency method status reason "
            "requested_by external_reference gateway_message requested_at completed_at updated_at",
        )
        self.notes = t(
            m.CreditNote, "id number invoice_id refund_id amount currency reason issued_at"
        )
        self.audit = t(m.AuditEntry, "id actor action invoice_id attempt_id reason data created_at")
        self.emails = t(
            m.OutgoingEmail,
            "id template to context reason message_id status attempts next_attempt_at "
            "sent_at created_at",
        )
        self.tables = [
            self.clients, self.leads, self.invoices, self.lines, self.attempts, self.ledger,
            self.notifications, self.cases, self.refunds, self.notes, self.audit, self.emails,
        ]  # fmt: skip
        self.invoice_counters: dict[int, int] = defaultdict(int)
        self.note_counters: dict[int, int] = defaultdict(int)
        self.client_rows: list[tuple] = []

    # -- one person, one lead ------------------------------------------------------------------

    def client(self, when: datetime) -> tuple:
        rng = self.rng
        if self.client_rows and rng.random() < 0.22:
            return rng.choice(self.client_rows)
        pk = self.clients.new_id()
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}{pk}@{rng.choice(DOMAINS)}"
        phone = f"+2557{pk:08d}"
        company = (
            f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} Ltd"
            if rng.random() < 0.45
            else ""
        )
        self.clients.add(pk, name, email, phone, company, when)
        row = (pk, name, email, phone, company)
        self.client_rows.append(row)
        return row

    def lead(self, client: tuple, service, when: datetime) -> int:
        rng = self.rng
        pk = self.leads.new_id()
        _, name, email, phone, company = client
        utm = rng.choice(UTM_SOURCES)
        consent = rng.random() < 0.4
        age = self.now - when
        if age < timedelta(days=3):
            status = "new"
        else:
            status = rng.choices(("new", "contacted", "won", "lost"), (1, 5, 3, 2))[0]
        page = rng.choice(SOURCE_PAGES)
        self.leads.add(
            pk,
            client[0],
            service.pk if service else None,
            name,
            email,
            phone,
            company,
            f"{rng.randrange(100_000_000, 999_999_999)}" if company and rng.random() < 0.5 else "",
            rng.choice(MESSAGES),
            page,
            f"https://wetech.co.tz{page}" + (f"?utm_source={utm}" if utm else ""),
            "https://www.google.com/" if utm == "google" else "",
            utm,
            "cpc" if utm == "google" else ("social" if utm else ""),
            "launch-2025" if utm else "",
            consent,
            when if consent else None,
            "196.249.97.12" if consent else None,
            status,
            when,
        )
        self.emails_add("lead_acknowledgement", email, {"lead": ("wetech.lead", pk)},
                        f"lead {pk}", when)  # fmt: skip
        return pk

    def emails_add(self, template: str, to: str, models: dict, reason: str, when: datetime):
        pk = self.emails.new_id()
        context = {k: {"__model__": label, "pk": ref} for k, (label, ref) in models.items()}
        context["site_url"] = "https://wetech.co.tz"
        sent = when + timedelta(seconds=3)
        self.emails.add(
            pk, template, [to], context, reason, f"<{pk}.{secrets.token_hex(6)}@wetech.co.tz>",
            "sent", 1, when, sent, when,
        )  # fmt: skip

    # -- money ---------------------------------------------------------------------------------

    def invoice(self, client: tuple, lead_id: int | None, service, when: datetime) -> None:
        rng = self.rng
        pk = self.invoices.new_id()
        currency = "USD" if rng.random() < 0.08 else "TZS"
        lines = []
        count = rng.choices((1, 2, 3), (6, 3, 1))[0]
        for position in range(1, count + 1):
            if currency == "USD":
                unit = Decimal(rng.randrange(50, 1500) * 2)
            else:
                unit = Decimal(rng.randrange(15, 500) * 10_000)
            quantity = Decimal(rng.choice((1, 1, 1, 2, 3)))
            description = service.name if (position == 1 and service) else rng.choice(
                ("Web hosting and email (1 year)", "Domain name (.co.tz, 1 year)",
                 "Extra page design", "Training session", "SSL certificate")
            )  # fmt: skip
            lines.append((position, description, quantity, unit, _money(quantity * unit)))
        subtotal = sum(line[4] for line in lines)
        tax = _money(subtotal * TAX_RATE)
        total = subtotal + tax
        age = self.now - when
        roll = rng.random()
        if roll < 0.015:
            kind = "draft"
        elif roll < 0.05:
            kind = "void"
        elif age < timedelta(days=10) and roll < 0.6:
            kind = "issued"
        else:
            kind = rng.choices(
                ("paid", "issued", "refunded", "partial_refund", "needs_review", "chargeback"),
                (620, 320, 10, 5, 4, 2),
            )[0]
        issued_at = None if kind == "draft" else when + timedelta(minutes=1)
        number = None
        if issued_at is not None:
            year = issued_at.year
            self.invoice_counters[year] += 1
            number = f"WT-{year}-{self.invoice_counters[year]:05d}"
        status = {"partial_refund": "paid", "chargeback": "issued"}.get(kind, kind)
        _, name, email, phone, company = client
        paid_at = None
        history = []
        if kind in ("paid", "refunded", "partial_refund", "chargeback"):
            paid_at = when + timedelta(minutes=rng.randrange(5, 60 * 24 * 20))
            paid_at = min(paid_at, self.now - timedelta(minutes=2))
        updated = paid_at or issued_at or when
        self.invoices.add(
            pk, number, secrets.token_urlsafe(32), client[0], lead_id, name, email, phone,
            company, "", currency, subtotal, TAX_RATE, tax, total, status, issued_at,
            (issued_at + timedelta(days=14)).date() if issued_at else None,
            paid_at if status == "paid" or kind == "refunded" else None, when, updated,
        )  # fmt: skip
        for position, description, quantity, unit, amount in lines:
            self.lines.add(self.lines.new_id(), pk, position, description, quantity, unit, amount)
        if issued_at is None:
            return
        invoice = (pk, number, currency, total, email, phone)
        self.emails_add("invoice", email, {"invoice": ("wetech.invoice", pk)},
                        f"invoice {number}", issued_at)  # fmt: skip
        if rng.random() < 0.3 or kind == "void":
            # A try that came to nothing first (a cancelled prompt, a page left open).
            start = issued_at + timedelta(minutes=rng.randrange(2, 600))
            if start < self.now - timedelta(hours=2):
                self.attempt(invoice, start, rng.choice(("failed", "expired", "cancelled")))
        if kind == "void":
            self.audit_add("amina", "invoice_voided", pk, None, "Client cancelled the order.",
                           issued_at + timedelta(days=3))  # fmt: skip
            return
        if kind == "issued":
            if age < timedelta(minutes=30):
                self.attempt(invoice, when + timedelta(minutes=2), "pending")
            return
        start = paid_at - timedelta(minutes=3) if paid_at else issued_at + timedelta(hours=2)
        if kind == "needs_review":
            attempt = self.attempt(invoice, start, "needs_review")
            said = _money(total * Decimal("0.9"))
            self.cases.add(
                self.cases.new_id(), pk, attempt[0], "mismatch", "open",
                f"Gateway reports completed, but amount {said} instead of {total}",
                {"status": "COMPLETED", "amount": str(said), "currency": currency},
                {"amount": str(total), "currency": currency}, "", "", "", start, None,
            )  # fmt: skip
            self.audit_add("system", "review_opened", pk, attempt[0], "", start)
            return
        attempt = self.attempt(invoice, start, "completed", completed=paid_at)
        history.append(attempt)
        if kind == "chargeback":
            back = paid_at + timedelta(days=rng.randrange(5, 40))
            back = min(back, self.now - timedelta(minutes=1))
            self.attempt_status(attempt, "reversed")
            self.ledger_add(invoice, attempt, "reversal", total, attempt[3], back)
            case = self.cases.new_id()
            self.cases.add(
                case, pk, attempt[0], "reversal", "resolved", "The payment was charged back",
                {"status": "REVERSED", "amount": str(total), "currency": currency},
                {"amount": str(total), "currency": currency}, "dismiss",
                "Chargeback accepted after the customer's dispute.", "baraka", back,
                back + timedelta(days=1),
            )  # fmt: skip
            self.audit_add("system", "chargeback", pk, attempt[0], "", back)
            self.audit_add("baraka", "review_dismissed", pk, attempt[0],
                           "Chargeback accepted after the customer's dispute.",
                           back + timedelta(days=1))  # fmt: skip
        elif kind in ("refunded", "partial_refund"):
            amount = total if kind == "refunded" else _money(total * Decimal("0.25"))
            self.refund_add(invoice, attempt, amount, paid_at + timedelta(days=2))

    def attempt(self, invoice, start: datetime, status: str, completed=None) -> tuple:
        rng = self.rng
        pk = self.attempts.new_id()
        invoice_id, number, currency, total, email, phone = invoice
        gateway = "pesapal" if rng.random() < 0.6 else "azampay"
        reference = f"{number}-{secrets.token_hex(4).upper()}"
        gateway_reference = (
            f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
            if gateway == "pesapal"
            else f"AZM{pk:010d}"
        )
        push = gateway == "azampay"
        provider = rng.choice(AZAM_PROVIDERS) if push else ""
        method = rng.choice(PESAPAL_METHODS) if not push else f"{provider} TZ"
        done = status in ("completed", "needs_review")
        code = f"Q{secrets.token_hex(4).upper()}" if done else ""
        detail = {
            "failed": "Insufficient funds",
            "expired": "No answer before the attempt expired",
            "cancelled": "Cancelled by the customer",
            "needs_review": "Gateway reports completed, but the amount differs",
        }.get(status, "")
        open_ = status == "pending"
        self.attempts.add(
            pk, invoice_id, gateway, reference, gateway_reference, total, currency,
            phone if push else "", provider, status, detail, code, method if done else "",
            False, start + timedelta(minutes=2), 1, start + timedelta(minutes=30) if open_
            else None, completed, start, completed or start + timedelta(minutes=2),
        )  # fmt: skip
        self.notification_add(gateway, pk, start, status, reference, gateway_reference)
        row = (pk, gateway, reference, gateway_reference, currency, code)
        if status == "completed":
            self.ledger_add(invoice, row, "payment", total, gateway_reference, completed)
            self.emails_add("receipt", email, {"attempt": ("wetech.paymentattempt", pk)},
                            f"payment {reference}", completed)  # fmt: skip
        return row

    def attempt_status(self, attempt, status: str) -> None:
        # The attempt's row is the last one added: rewrite its status column in the buffer.
        line = self.attempts.buffer[-1].split("\t")
        assert line[0] == str(attempt[0])
        line[self.attempts.columns.index("status")] = status
        self.attempts.buffer[-1] = "\t".join(line)

    def ledger_add(self, invoice, attempt, kind: str, amount, reference: str, when) -> None:
        pk, gateway, _, _, currency, code = attempt
        self.ledger.add(
            self.ledger.new_id(), invoice[0], pk, kind, amount, currency, gateway, reference,
            code if kind == "payment" else "", when,
        )  # fmt: skip

    def notification_add(self, gateway, attempt_id, start, status, reference, tracking) -> None:
        rng = self.rng
        when = start + timedelta(minutes=1, seconds=rng.randrange(60))
        if gateway == "pesapal":
            query = f"OrderTrackingId={tracking}&OrderMerchantReference={reference}"
            body = json.dumps(
                {
                    "OrderNotificationType": "IPNCHANGE",
                    "OrderTrackingId": tracking,
                    "OrderMerchantReference": reference,
                }
            )
            kinds = [("ipn", "POST", "applied"), ("browser_return", "GET", "duplicate")]
        else:
            query = ""
            body = json.dumps(
                {
                    "msisdn": "2557*****123",
                    "amount": "1",
                    "message": "Success" if status == "completed" else "Failed",
                    "utilityref": reference,
                    "operator": "Airtel",
                    "reference": tracking,
                    "transactionstatus": "success" if status == "completed" else "failure",
                    "submerchantAcc": None,
                }
            )
            kinds = [("callback", "POST", "applied")]
        headers = {"Content-Type": "application/json", "User-Agent": f"{gateway}-notifier/1.0"}
        for kind, method, result in kinds:
            self.notifications.add(
                self.notifications.new_id(), gateway, kind, method, headers, query,
                body if method == "POST" else "", "41.59.1.10", when, attempt_id, result,
                when + timedelta(seconds=1),
            )  # fmt: skip
            when += timedelta(seconds=20)

    def refund_add(self, invoice, attempt, amount: Decimal, when: datetime) -> None:
        invoice_id, number, currency, total, email, _phone = invoice
        when = min(when, self.now - timedelta(minutes=1))
        pk = self.refunds.new_id()
        reference = f"{number}-RF{secrets.token_hex(4).upper()}"
        manual = attempt[1] == "azampay"
        done = when + timedelta(hours=5)
        reason = "Client cancelled the project before work began."
        self.refunds.add(
            pk, invoice_id, attempt[0], reference, amount, currency,
            "manual" if manual else "gateway", "completed", reason, "baraka",
            f"MM{pk:08d}" if manual else "", "" if manual else "Refund approved", when, done, done,
        )  # fmt: skip
        if not manual and amount == total:
            # Pesapal reports a full refund as the payment reversed.
            self.attempt_status(attempt, "reversed")
        self.ledger_add(invoice, attempt, "refund", amount, reference, done)
        year = done.year
        self.note_counters[year] += 1
        self.notes.add(
            self.notes.new_id(), f"CN-{year}-{self.note_counters[year]:05d}", invoice_id, pk,
            amount, currency, f"Refund of payment {attempt[2]}", done,
        )  # fmt: skip
        action = "refund_recorded" if manual else "refund_requested"
        self.audit_add("baraka", action, invoice_id, attempt[0], reason, when)
        if not manual:
            self.audit_add("system", "refund_completed", invoice_id, attempt[0], "", done)
        self.emails_add("refund_customer", email, {"refund": ("wetech.refund", pk)},
                        f"payment {attempt[2]}", done)  # fmt: skip

    def audit_add(self, actor, action, invoice_id, attempt_id, reason, when) -> None:
        self.audit.add(self.audit.new_id(), actor, action, invoice_id, attempt_id, reason, {},
                       when)  # fmt: skip

    # -- the whole book ------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        from wetech.models import Service

        services = list(Service.objects.order_by("pk"))
        priced = [s for s in services if s.is_priced]
        on_request = [s for s in services if not s.is_priced]
        rng = self.rng
        extra_leads = self.n // 5
        span = timedelta(days=730).total_seconds()
        # Busier lately: the square root puts more of the book in the recent months.
        offsets = sorted(
            (span * (1 - rng.random() ** 0.5) for _ in range(self.n + extra_leads)), reverse=True
        )
        with_invoice = set(rng.sample(range(len(offsets)), self.n))
        for index, offset in enumerate(offsets):
            when = self.now - timedelta(seconds=offset + 120)
            client = self.client(when)
            if index in with_invoice:
                if rng.random() < 0.05:
                    # Made by staff in the back office: no lead.
                    self.invoice(client, None, None, when)
                    continue
                service = rng.choice(priced)
                lead_id = self.lead(client, service, when)
                self.invoice(client, lead_id, service, when)
            else:
                service = rng.choice([*on_request, None])
                self.lead(client, service, when)
        for table in self.tables:
            table.flush()
        return {t.model._meta.db_table: t.count for t in self.tables}


def seed(invoices: int) -> tuple[dict[str, int], float]:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from wetech.models import CreditNoteCounter, InvoiceCounter
    from wetech.sales.catalogue import DEMO_CATALOGUE, catalogue_load

    started = time.perf_counter()
    tables = [
        "wetech_client", "wetech_lead", "wetech_invoice", "wetech_invoiceline",
        "wetech_paymentattempt", "wetech_ledgerentry", "wetech_gatewaynotification",
        "wetech_reviewcase", "wetech_refund", "wetech_creditnote", "wetech_auditentry",
        "wetech_outgoingemail", "wetech_invoicecounter", "wetech_creditnotecounter",
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    catalogue_load(entries=DEMO_CATALOGUE)
    with transaction.atomic(), connection.cursor() as cursor:
        # Loading into tables without their secondary indexes, then building each index once,
        # is about twice as fast as updating them row by row (the trigram ones above all).
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)"
            " FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relname = ANY(%s) AND NOT i.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        seeder = Seeder(invoices=invoices, cursor=cursor.cursor, now=timezone.now())
        counts = seeder.run()
        # Foreign keys are checked at commit; an index cannot be built over pending checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for _, definition in indexes:
            cursor.execute(definition)
        for table in tables[:-2]:
            # The table names are this function's own constants.
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
        InvoiceCounter.objects.bulk_create(
            InvoiceCounter(year=y, last_number=n) for y, n in seeder.invoice_counters.items()
        )
        CreditNoteCounter.objects.bulk_create(
            CreditNoteCounter(year=y, last_number=n) for y, n in seeder.note_counters.items()
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    call_command("check", verbosity=0)
    return counts, time.perf_counter() - started


# --- Measuring ----------------------------------------------------------------------------------


def pages_to_time() -> list[tuple[str, str]]:
    """(label, path) of every admin list, the typed searches, a change page of each model."""
    from django.contrib import admin
    from django.db.models import Q

    from wetech.models import (
        AuditEntry,
        CreditNote,
        GatewayNotification,
        Invoice,
        Lead,
        LedgerEntry,
        OutgoingEmail,
        PaymentAttempt,
        Refund,
        ReviewCase,
    )

    pages = [("dashboard", "/admin/dashboard/"), ("admin index", "/admin/")]
    for model in sorted(
        admin.site._registry, key=lambda m: (m._meta.app_label, m._meta.model_name)
    ):
        meta = model._meta
        pages.append((f"list {meta.model_name}", f"/admin/{meta.app_label}/{meta.model_name}/"))

    def middle(queryset):
        count = queryset.count()
        return queryset.order_by("pk")[count // 2]

    # A rich invoice: refunded, with its lines, attempts, ledger, refund, credit note and trail.
    refunded = middle(Invoice.objects.filter(status=Invoice.Status.REFUNDED))
    invoice = middle(Invoice.objects.filter(status=Invoice.Status.PAID))
    client = invoice.client
    lead = middle(Lead.objects.filter(invoice__isnull=False))
    attempt = middle(PaymentAttempt.objects.filter(status=PaymentAttempt.Status.COMPLETED))
    last_name = client.name.split()[-1]
    number = invoice.number
    searches = [
        ("invoice", "number", number),
        ("invoice", "number prefix", number[:-2]),
        ("invoice", "email", client.email.upper()),
        ("invoice", "phone", client.phone),
        ("invoice", "name", last_name),
        ("client", "email", client.email),
        ("client", "phone", client.phone),
        ("client", "name", last_name),
        ("lead", "email", lead.email),
        ("lead", "phone", lead.phone),
        ("lead", "name", last_name),
        ("paymentattempt", "merchant reference", attempt.merchant_reference),
        ("paymentattempt", "invoice number", number),
        ("ledgerentry", "invoice number", number),
        ("gatewaynotification", "merchant reference", attempt.merchant_reference),
        ("refund", "invoice number", refunded.number),
        ("creditnote", "invoice number", refunded.number),
        ("reviewcase", "invoice number", number),
        ("auditentry", "invoice number", refunded.number),
        ("outgoingemail", "invoice number", number),
    ]
    for model, what, query in searches:
        pages.append(
            (f"search {model}: {what}", f"/admin/wetech/{model}/?{urlencode({'q': query})}")
        )
    filters = [
        ("invoice", {"status__exact": "paid"}),
        ("invoice", {"currency__exact": "USD"}),
        ("lead", {"status__exact": "new"}),
        ("lead", {"utm_source__exact": "google"}),
        ("paymentattempt", {"status__exact": "completed"}),
        ("outgoingemail", {"status__exact": "sent"}),
    ]
    for model, params in filters:
        label = ", ".join(f"{k.split('__')[0]}={v}" for k, v in params.items())
        pages.append((f"filter {model}: {label}", f"/admin/wetech/{model}/?{urlencode(params)}"))
    changes = [
        ("invoice (refunded)", refunded),
        ("invoice (paid)", invoice),
        ("client", client),
        ("lead", lead),
        ("paymentattempt", attempt),
        ("ledgerentry", LedgerEntry.objects.filter(invoice=refunded).first()),
        ("gatewaynotification", GatewayNotification.objects.filter(attempt=attempt).first()),
        ("refund", Refund.objects.filter(invoice=refunded).first()),
        ("creditnote", CreditNote.objects.filter(invoice=refunded).first()),
        ("reviewcase", ReviewCase.objects.filter(status="open").first()),
        ("auditentry", AuditEntry.objects.filter(invoice=refunded).first()),
        ("outgoingemail", OutgoingEmail.objects.filter(Q(reason=f"invoice {number}")).first()),
    ]
    for label, obj in changes:
        if obj is None:
            continue
        meta = obj._meta
        pages.append(
            (f"change {label}", f"/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/change/")
        )
    return pages


def measure(fetch, rounds: int) -> tuple[float, int, float]:
    """Median milliseconds of `rounds` calls after a warm-up; queries and slowest query (ms)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fetch()
    times = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            fetch()
            times.append((time.perf_counter() - started) * 1000)
    slowest = max((float(q["time"]) * 1000 for q in captured.captured_queries), default=0.0)
    return statistics.median(times), len(captured), slowest


def run_pages(rounds: int) -> list[tuple[str, float, int, float]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from wetech.ops.integrity import integrity_audit

    user, _ = get_user_model().objects.get_or_create(
        username="scale-bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    rows = []
    for label, path in pages_to_time():

        def fetch(path=path):
            response = client.get(path, secure=True)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")

        rows.append((label, *measure(fetch, rounds)))
        print(f"  {label:<48} {rows[-1][1]:>9.1f} ms {rows[-1][2]:>4} queries", flush=True)
    findings = []

    def audit():
        findings[:] = integrity_audit()

    rows.append(("check_data_integrity", *measure(audit, rounds)))
    print(f"  {'check_data_integrity':<48} {rows[-1][1]:>9.1f} ms ({len(findings)} findings)")
    if findings:
        print("  findings:", *[f.line() for f in findings[:10]], sep="\n    ")
    return rows


def row_counts() -> dict[str, int]:
    from django.db import connection

    tables = [
        "wetech_invoice",
        "wetech_client",
        "wetech_lead",
        "wetech_invoiceline",
        "wetech_paymentattempt",
        "wetech_ledgerentry",
        "wetech_gatewaynotification",
        "wetech_reviewcase",
        "wetech_refund",
        "wetech_creditnote",
        "wetech_auditentry",
        "wetech_outgoingemail",
    ]
    with connection.cursor() as cursor:
        counts = ", ".join(f"(SELECT COUNT(*) FROM {t})" for t in tables)  # noqa: S608
        cursor.execute(f"SELECT {counts}")
        return dict(zip(tables, cursor.fetchone(), strict=True))


def goal(label: str) -> float:
    if label == "check_data_integrity":
        return float("inf")
    return 500.0 if label == "dashboard" else 300.0


def report(*, invoices, label, counts, seeded, rows, rounds, load) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database())), version()")
        size, version = cursor.fetchone()
    missed = [r for r in rows if r[1] > goal(r[0])]
    held = ", ".join(f"{n:,} {table.removeprefix('wetech_')}" for table, n in counts.items())
    lines = [
        f"PostgreSQL {version.split()[1]}, database {size}: {held}.",
        "",
        f"In-process Django test Client as a superuser, production settings; ms = median of "
        f"{rounds} after a warm-up. The machine has 2 cores shared with other work: "
        "expect noise of tens of percent on the small numbers (load average "
        f"{load[0]:.1f} before the pages, {load[1]:.1f} after)."
        + (f" Seeded in {seeded:.0f} s." if seeded else ""),
        "",
        "| page | ms | queries | slowest query ms |",
        "|---|---:|---:|---:|",
    ]
    for page, ms, queries, slowest in rows:
        flag = " **over goal**" if ms > goal(page) else ""
        lines.append(f"| {page} | {ms:,.1f}{flag} | {queries} | {slowest:,.1f} |")
    lines += [
        "",
        "Goals: every admin page and search under 300 ms, the dashboard under 500 ms: "
        + (f"**{len(missed)} over**." if missed else "**all met**."),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", "-n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default="", help="e.g. before / after, in the heading")
    parser.add_argument("--reseed", action="store_true", help="seed even if N invoices are there")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print, leave results.md alone")
    args = parser.parse_args()
    url = os.environ.get("SCALE_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        raise SystemExit("bench/scale.py measures PostgreSQL: SCALE_DATABASE_URL=postgres://...")
    configure(url)
    database_ensure(url)
    import django

    django.setup()
    import logging

    # One log line per request and audit would bury the table.
    for name in ("wetech.request", "wetech.integrity"):
        logging.getLogger(name).setLevel(logging.WARNING)

    from wetech.models import Invoice

    schema_migrate(url)
    seeded = 0.0
    if args.reseed or Invoice.objects.count() != args.invoices:
        print(f"seeding {args.invoices:,} invoices into {urlsplit(url).path.lstrip('/')} ...")
        counts, seeded = seed(args.invoices)
        print(f"seeded in {seeded:.1f} s: {counts}")
    counts = row_counts()
    if args.seed_only:
        return
    load_before = os.getloadavg()[0]
    rows = run_pages(args.rounds)
    body = report(
        load=(load_before, os.getloadavg()[0]),
        invoices=args.invoices,
        label=args.label,
        counts=counts,
        seeded=seeded,
        rows=rows,
        rounds=args.rounds,
    )
    print(body)
    if not args.no_write:
        from bench.results_section import write_section

        title = f"Back office at scale: {args.invoices:,} invoices"
        write_section(f"{title} ({args.label})" if args.label else title, body, script=SCRIPT)


if __name__ == "__main__":
    main()
