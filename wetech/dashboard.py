"""The staff dashboard's figures: each one a few aggregate queries, returned as plain dataclasses.

Every figure is computed by the database (truncation to week or month, conditional counts and
sums, grouped rows); Python only reshapes the grouped rows, whose number is bounded by the
periods, currencies, gateways and services, never by the number of invoices. The filters use
indexed columns (`Lead.created_at`, `LedgerEntry.created_at`, `Invoice.status`,
`ReviewCase.status`, `Refund.status`), so the page costs the same number of queries and stays
fast whatever the size of the tables.

Weeks start on Monday and months on the 1st, in the site's time zone (`TIME_ZONE`): a lead sent
on Sunday at 23:30 in Dar es Salaam belongs to that week, not to the next one as it would in UTC.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone

from wetech.models import Invoice, Lead, LedgerEntry, Refund, ReviewCase
from wetech.models.payments import Gateway
from wetech.money import DEFAULT_CURRENCY, quantize

FUNNEL_WEEKS = 12
REVENUE_MONTHS = 12
# Services beyond this many (by money received) are summed as "Other services": a legend of
# twenty colours is unreadable on a phone.
REVENUE_TOP_SERVICES = 5
OPEN_ITEMS_SHOWN = 10

NO_SERVICE = "__none__"
NO_SERVICE_LABEL = "No service (invoice made by staff)"
OTHER_SERVICES = "__other__"
OTHER_SERVICES_LABEL = "Other services"

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=16, decimal_places=2)
UNPAID_STATUSES = (Invoice.Status.ISSUED, Invoice.Status.NEEDS_REVIEW)


def _rate(part: int, whole: int) -> Decimal | None:
    """A percentage with one decimal, or None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def _local_day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _period_key(value) -> date:
    """The local date a TruncWeek/TruncMonth value stands for (aware datetime on every backend)."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date()
    return value


def _money(value) -> Decimal:
    return quantize(value) if value is not None else ZERO


# --- Funnel: leads -> invoices issued -> paid, by the week the lead arrived ---------------------


@dataclass(frozen=True)
class FunnelStage:
    leads: int
    invoiced: int
    paid: int

    @property
    def invoiced_rate(self) -> Decimal | None:
        """Share of the leads that received an issued invoice."""
        return _rate(self.invoiced, self.leads)

    @property
    def paid_rate(self) -> Decimal | None:
        """Share of the issued invoices that are paid."""
        return _rate(self.paid, self.invoiced)

    @property
    def overall_rate(self) -> Decimal | None:
        """Share of the leads that ended paid."""
        return _rate(self.paid, self.leads)


@dataclass(frozen=True)
class FunnelWeek(FunnelStage):
    week_start: date = field(kw_only=True)


@dataclass(frozen=True)
class Funnel:
    weeks: list[FunnelWeek]
    totals: FunnelStage
    start: date
    end: date


def funnel_weekly(*, now: datetime | None = None, weeks: int = FUNNEL_WEEKS) -> Funnel:
    """Leads by the week they arrived (the current week last, so far), and of those how many
    have an issued invoice and how many are paid today. One query.

    A cohort, so every rate is at most 100%: a lead from week 3 paid in week 5 counts in week 3.
    "Invoiced" is any invoice that left draft (a void one included: it was issued); "paid" is
    the invoice's status now (a refunded or charged-back one is no longer paid). Invoices made by
    staff without a lead are not in the funnel.
    """
    today = timezone.localdate(now or timezone.now())
    this_week = today - timedelta(days=today.weekday())
    week_starts = [this_week - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    start = _local_day_start(week_starts[0])
    end = _local_day_start(this_week + timedelta(weeks=1))
    rows = (
        Lead.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(
            leads=Count("pk"),
            invoiced=Count("pk", filter=Q(invoice__issued_at__isnull=False)),
            paid=Count("pk", filter=Q(invoice__status=Invoice.Status.PAID)),
        )
        .order_by("week")
    )
    counted = {_period_key(row["week"]): row for row in rows}
    funnel_weeks = []
    for week_start in week_starts:
        row = counted.get(week_start, {})
        funnel_weeks.append(
            FunnelWeek(
                week_start=week_start,
                leads=row.get("leads", 0),
                invoiced=row.get("invoiced", 0),
                paid=row.get("paid", 0),
            )
        )
    totals = FunnelStage(
        leads=sum(w.leads for w in funnel_weeks),
        invoiced=sum(w.invoiced for w in funnel_weeks),
        paid=sum(w.paid for w in funnel_weeks),
    )
    return Funnel(
        weeks=funnel_weeks,
        totals=totals,
        start=week_starts[0],
        end=this_week + timedelta(days=6),
    )


# --- Revenue received per month, net of chargebacks and refunds --------------------------------


@dataclass(frozen=True)
class Series:
    key: str
    label: str


@dataclass(frozen=True)
class Movement:
    """Money that moved in a period: received (payments) less taken back."""

    received: Decimal = ZERO
    reversed: Decimal = ZERO
    refunded: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.received - self.reversed - self.refunded

    def __add__(self, other: "Movement") -> "Movement":
        return Movement(
            received=self.received + other.received,
            reversed=self.reversed + other.reversed,
            refunded=self.refunded + other.refunded,
        )


@dataclass(frozen=True)
class RevenueMonth:
    month: date
    movement: Movement
    # Net by series key (every key of Revenue.gateways / Revenue.services is present).
    by_gateway: dict[str, Decimal]
    by_service: dict[str, Decimal]

    @property
    def net(self) -> Decimal:
        return self.movement.net


@dataclass(frozen=True)
class CurrencyRevenue:
    """Money in a currency the charts leave out, over the whole period, by gateway."""

    currency: str
    movement: Movement
    by_gateway: dict[str, Decimal]


@dataclass(frozen=True)
class Revenue:
    currency: str
    months: list[RevenueMonth]
    gateways: list[Series]
    services: list[Series]
    total: Movement
    gateway_totals: dict[str, Decimal]
    service_totals: dict[str, Decimal]
    other_currencies: list[CurrencyRevenue]
    start: date
    end: date


def _month_starts(today: date, months: int) -> list[date]:
    starts = []
    year, month = today.year, today.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def revenue_monthly(
    *, now: datetime | None = None, months: int = REVENUE_MONTHS, currency: str = DEFAULT_CURRENCY
) -> Revenue:
    """Money received per calendar month (the current month last, so far), by the date the
    ledger recorded it: payments less chargebacks (reversals) and completed refunds, split by
    gateway and by the service of the invoice's lead. One query.

    Only `currency` is charted; money in any other currency is totalled separately (amounts in
    different currencies are never added up).
    """
    today = timezone.localdate(now or timezone.now())
    month_starts = _month_starts(today, months)
    start = _local_day_start(month_starts[0])
    next_month = _month_starts(today.replace(day=28) + timedelta(days=7), 1)[0]
    end = _local_day_start(next_month)
    kind = LedgerEntry.Kind
    rows = (
        LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(month=TruncMonth("created_at"))
        .values(
            "month",
            "currency",
            "gateway",
            "invoice__lead__service_id",
            "invoice__lead__service__name",
        )
        .annotate(
            received=Sum("amount", filter=Q(kind=kind.PAYMENT)),
            reversed=Sum("amount", filter=Q(kind=kind.REVERSAL)),
            refunded=Sum("amount", filter=Q(kind=kind.REFUND)),
        )
        .order_by()
    )

    gateway_labels = dict(Gateway.choices)
    per_month: dict[date, Movement] = {}
    per_gateway: dict[tuple[date, str], Decimal] = {}
    per_service: dict[tuple[date, str], Decimal] = {}
    service_labels: dict[str, str] = {}
    others: dict[str, tuple[Movement, dict[str, Decimal]]] = {}
    for row in rows:
        movement = Movement(
            received=_money(row["received"]),
            reversed=_money(row["reversed"]),
            refunded=_money(row["refunded"]),
        )
        gateway = row["gateway"]
        gateway_labels.setdefault(gateway, gateway)
        if row["currency"] != currency:
            total, by_gateway = others.get(row["currency"], (Movement(), {}))
            by_gateway[gateway] = by_gateway.get(gateway, ZERO) + movement.net
            others[row["currency"]] = (total + movement, by_gateway)
            continue
        month = _period_key(row["month"])
        service_id = row["invoice__lead__service_id"]
        service = str(service_id) if service_id is not None else NO_SERVICE
        service_labels[service] = row["invoice__lead__service__name"] or NO_SERVICE_LABEL
        per_month[month] = per_month.get(month, Movement()) + movement
        per_gateway[month, gateway] = per_gateway.get((month, gateway), ZERO) + movement.net
        per_service[month, service] = per_service.get((month, service), ZERO) + movement.net

    gateway_totals: dict[str, Decimal] = {}
    for (_, gateway), net in per_gateway.items():
        gateway_totals[gateway] = gateway_totals.get(gateway, ZERO) + net
    gateways = [
        Series(key, label)
        for key, label in gateway_labels.items()
        if key in gateway_totals or key in Gateway.values
    ]

    service_totals: dict[str, Decimal] = {}
    for (_, service), net in per_service.items():
        service_totals[service] = service_totals.get(service, ZERO) + net
    ranked = sorted(service_totals, key=lambda key: (-service_totals[key], service_labels[key]))
    if len(ranked) > REVENUE_TOP_SERVICES:
        kept, folded = ranked[: REVENUE_TOP_SERVICES - 1], set(ranked[REVENUE_TOP_SERVICES - 1 :])
        for (month, service), net in list(per_service.items()):
            if service in folded:
                del per_service[month, service]
                key = (month, OTHER_SERVICES)
                per_service[key] = per_service.get(key, ZERO) + net
        service_totals = {key: service_totals[key] for key in kept} | {
            OTHER_SERVICES: sum((service_totals[key] for key in folded), ZERO)
        }
        services = [Series(key, service_labels[key]) for key in kept]
        services.append(Series(OTHER_SERVICES, OTHER_SERVICES_LABEL))
    else:
        services = [Series(key, service_labels[key]) for key in ranked]

    revenue_months = [
        RevenueMonth(
            month=month,
            movement=per_month.get(month, Movement()),
            by_gateway={s.key: per_gateway.get((month, s.key), ZERO) for s in gateways},
            by_service={s.key: per_service.get((month, s.key), ZERO) for s in services},
        )
        for month in month_starts
    ]
    total = sum((m.movement for m in revenue_months), Movement())
    return Revenue(
        currency=currency,
        months=revenue_months,
        gateways=gateways,
        services=services,
        total=total,
        gateway_totals={s.key: gateway_totals.get(s.key, ZERO) for s in gateways},
        service_totals=service_totals,
        other_currencies=[
            CurrencyRevenue(currency=code, movement=movement, by_gateway=by_gateway)
            for code, (movement, by_gateway) in sorted(others.items())
        ],
        start=month_starts[0],
        end=next_month - timedelta(days=1),
    )


# --- Unpaid invoices by age ----------------------------------------------------------------------


@dataclass(frozen=True)
class AgeBucket:
    key: str
    label: str
    count: int
    total: Decimal
    # What is still owed: the totals less what the ledger holds for those invoices.
    due: Decimal


@dataclass(frozen=True)
class UnpaidAges:
    currency: str
    buckets: list[AgeBucket]
    other_currencies: dict[str, list[AgeBucket]]

    @property
    def count(self) -> int:
        return sum(b.count for b in self.buckets)

    @property
    def total(self) -> Decimal:
        return sum((b.total for b in self.buckets), ZERO)

    @property
    def due(self) -> Decimal:
        return sum((b.due for b in self.buckets), ZERO)


EN_DASH = "\u2013"
# (key, label, youngest age in days, oldest age in days or None for no limit)
AGE_BUCKETS = (
    ("0-7", f"0{EN_DASH}7 days", 0, 7),
    ("8-30", f"8{EN_DASH}30 days", 8, 30),
    ("31-60", f"31{EN_DASH}60 days", 31, 60),
    ("60+", "Over 60 days", 61, None),
)


def _age_bucket(issued_at: str, today: date) -> Case:
    """The AGE_BUCKETS key of an invoice, from its `issued_at` (a field path)."""
    return Case(
        *[
            When(
                **{f"{issued_at}__gte": _local_day_start(today - timedelta(days=oldest))},
                then=Value(key),
            )
            for key, _, _, oldest in AGE_BUCKETS
            if oldest is not None
        ],
        default=Value(AGE_BUCKETS[-1][0]),
    )


def unpaid_by_age(*, now: datetime | None = None, currency: str = DEFAULT_CURRENCY) -> UnpaidAges:
    """Invoices waiting for money (issued or needs_review) by whole days since they were issued,
    in local dates: issued today is 0 days old. Two queries, each grouped by currency and age:
    the invoices' count and totals, and what the ledger holds for them.

    `due` is the totals less what is held (payments less chargebacks and refunds, in the
    invoice's currency), so a short payment accepted by staff shows only its balance. Summing per
    bucket rather than per invoice is exact: an invoice whose ledger holds its total is paid, so
    no unpaid one holds more than it costs. (A correlated subquery per invoice gave the same
    numbers at 200k invoices in about twice the time, and crossed PostgreSQL's JIT threshold.)
    """
    today = timezone.localdate(now or timezone.now())
    invoice_rows = (
        Invoice.objects.filter(status__in=UNPAID_STATUSES)
        .annotate(bucket=_age_bucket("issued_at", today))
        .values("currency", "bucket")
        .annotate(invoices=Count("pk"), invoiced=Sum("total"))
        .order_by()
    )
    held_rows = (
        LedgerEntry.objects.filter(
            invoice__status__in=UNPAID_STATUSES, currency=F("invoice__currency")
        )
        .annotate(bucket=_age_bucket("invoice__issued_at", today))
        .values("currency", "bucket")
        .annotate(
            held=Sum(
                Case(
                    When(kind=LedgerEntry.Kind.PAYMENT, then=F("amount")),
                    default=-F("amount"),
                    output_field=MONEY,
                )
            )
        )
        .order_by()
    )
    grouped: dict[str, dict[str, dict]] = {}
    for row in invoice_rows:
        grouped.setdefault(row["currency"], {})[row["bucket"]] = row
    for row in held_rows:
        grouped.setdefault(row["currency"], {}).setdefault(row["bucket"], {}).update(row)

    def buckets(counted: dict[str, dict]) -> list[AgeBucket]:
        result = []
        for key, label, _, _ in AGE_BUCKETS:
            row = counted.get(key, {})
            total = _money(row.get("invoiced"))
            due = max(total - _money(row.get("held")), ZERO)
            result.append(
                AgeBucket(key=key, label=label, count=row.get("invoices", 0), total=total, due=due)
            )
        return result

    return UnpaidAges(
        currency=currency,
        buckets=buckets(grouped.pop(currency, {})),
        other_currencies={code: buckets(counted) for code, counted in sorted(grouped.items())},
    )


# --- What needs a person: open review cases and refunds in flight --------------------------------


@dataclass(frozen=True)
class Waiting:
    """A row that needs a person, and for how many whole days (local dates) it has waited."""

    item: object
    days: int


@dataclass(frozen=True)
class OpenItems:
    """How many there are, and the oldest few (they have waited longest)."""

    count: int
    oldest: list[Waiting]


def _waiting(rows, since: str, today: date) -> list[Waiting]:
    return [Waiting(row, (today - timezone.localdate(getattr(row, since))).days) for row in rows]


def review_cases_open(*, now: datetime | None = None, limit: int = OPEN_ITEMS_SHOWN) -> OpenItems:
    """Open review cases: a count, and the oldest `limit` with their invoice. Two queries."""
    cases = ReviewCase.objects.filter(status=ReviewCase.Status.OPEN)
    oldest = cases.select_related("invoice", "attempt").order_by("opened_at", "pk")[:limit]
    today = timezone.localdate(now or timezone.now())
    return OpenItems(count=cases.count(), oldest=_waiting(oldest, "opened_at", today))


def refunds_in_flight(*, now: datetime | None = None, limit: int = OPEN_ITEMS_SHOWN) -> OpenItems:
    """Refunds requested and not completed or rejected yet: a count and the oldest. Two queries."""
    refunds = Refund.objects.filter(status=Refund.Status.REQUESTED)
    oldest = refunds.select_related("invoice", "attempt").order_by("requested_at", "pk")[:limit]
    today = timezone.localdate(now or timezone.now())
    return OpenItems(count=refunds.count(), oldest=_waiting(oldest, "requested_at", today))


# --- Everything the page shows -------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFigures:
    now: datetime
    funnel: Funnel
    revenue: Revenue
    unpaid: UnpaidAges
    review_cases: OpenItems
    refunds: OpenItems


def dashboard_figures(*, now: datetime | None = None) -> DashboardFigures:
    now = now or timezone.now()
    return DashboardFigures(
        now=now,
        funnel=funnel_weekly(now=now),
        revenue=revenue_monthly(now=now),
        unpaid=unpaid_by_age(now=now),
        review_cases=review_cases_open(now=now),
        refunds=refunds_in_flight(now=now),
    )
