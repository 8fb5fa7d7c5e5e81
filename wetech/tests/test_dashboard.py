"""The dashboard's figures against the book of known rows in `dashboard_helpers.build_book`
(now is Wednesday 18 March 2026, 10:00 in Dar es Salaam; its docstring works out every amount)."""

from datetime import date
from decimal import Decimal

import pytest

from wetech.dashboard import (
    NO_SERVICE,
    NO_SERVICE_LABEL,
    OTHER_SERVICES,
    dashboard_figures,
    funnel_weekly,
    refunds_in_flight,
    revenue_monthly,
    review_cases_open,
    unpaid_by_age,
)
from wetech.tests.dashboard_helpers import (
    NOW,
    Book,
    build_book,
    lead_at,
    local,
    payment_at,
    review_case_at,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def book() -> Book:
    return build_book()


def test_book_is_what_the_docstring_says(book):
    totals = {key: invoice.total for key, invoice in book.invoices.items()}
    assert totals["L1"] == Decimal("1770000.00")
    assert totals["L3"] == Decimal("531000.00")
    assert totals["S1"] == Decimal("200000.00")
    assert book.invoices["L2"].issued_at == local(2026, 3, 17)


# --- Funnel ---------------------------------------------------------------------------------------


def test_funnel_counts_each_week_s_leads_and_how_far_they_got(book):
    funnel = funnel_weekly(now=NOW)

    assert [w.week_start for w in funnel.weeks] == [
        date(2025, 12, 29),
        date(2026, 1, 5),
        date(2026, 1, 12),
        date(2026, 1, 19),
        date(2026, 1, 26),
        date(2026, 2, 2),
        date(2026, 2, 9),
        date(2026, 2, 16),
        date(2026, 2, 23),
        date(2026, 3, 2),
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]
    weeks = {w.week_start: (w.leads, w.invoiced, w.paid) for w in funnel.weeks if w.leads}
    assert weeks == {
        date(2026, 1, 5): (1, 1, 0),  # L9: paid, then charged back
        date(2026, 2, 2): (2, 1, 0),  # L5 (on request, no invoice), L6 unpaid
        date(2026, 2, 23): (1, 1, 0),  # L8 needs review
        date(2026, 3, 9): (2, 1, 1),  # L3 (Sunday 23:30 local), L4 no service
        date(2026, 3, 16): (2, 2, 1),  # L1 paid (partly refunded), L2 unpaid
    }
    assert (funnel.totals.leads, funnel.totals.invoiced, funnel.totals.paid) == (8, 6, 2)
    assert funnel.totals.invoiced_rate == Decimal("75.0")
    assert funnel.totals.paid_rate == Decimal("33.3")
    assert funnel.totals.overall_rate == Decimal("25.0")
    assert (funnel.start, funnel.end) == (date(2025, 12, 29), date(2026, 3, 22))


def test_funnel_rates_of_an_empty_week_are_none(book):
    week = funnel_weekly(now=NOW).weeks[0]
    assert (week.leads, week.invoiced_rate, week.paid_rate) == (0, None, None)


def test_funnel_is_one_query(book, django_assert_num_queries):
    with django_assert_num_queries(1):
        funnel_weekly(now=NOW)


# --- Revenue --------------------------------------------------------------------------------------


def test_revenue_is_net_of_chargebacks_and_refunds_per_local_month(book):
    revenue = revenue_monthly(now=NOW)

    assert revenue.currency == "TZS"
    assert [m.month for m in revenue.months] == [date(2025, month, 1) for month in range(4, 13)] + [
        date(2026, month, 1) for month in range(1, 4)
    ]
    moved = {
        m.month: (m.movement.received, m.movement.reversed, m.movement.refunded, m.net)
        for m in revenue.months
        if m.movement.received or m.movement.reversed or m.movement.refunded
    }
    assert moved == {
        date(2025, 11, 1): (Decimal(531000), 0, 0, Decimal(531000)),
        date(2026, 1, 1): (Decimal(1770000), 0, 0, Decimal(1770000)),
        date(2026, 2, 1): (Decimal(1000000), Decimal(1770000), 0, Decimal(-770000)),
        # 1,770,000 + 531,000 + 200,000 received; 270,000 + 531,000 refunded (L10's refund at
        # 00:30 on 1 March local time is a March refund).
        date(2026, 3, 1): (Decimal(2501000), 0, Decimal(801000), Decimal(1700000)),
    }
    assert revenue.total.received == Decimal(5802000)
    assert revenue.total.reversed == Decimal(1770000)
    assert revenue.total.refunded == Decimal(801000)
    assert revenue.total.net == Decimal(3231000)
    assert (revenue.start, revenue.end) == (date(2025, 4, 1), date(2026, 3, 31))


def test_revenue_by_gateway(book):
    revenue = revenue_monthly(now=NOW)

    assert [(s.key, s.label) for s in revenue.gateways] == [
        ("pesapal", "Pesapal"),
        ("azampay", "AzamPay"),
    ]
    months = {m.month: m.by_gateway for m in revenue.months}
    assert months[date(2026, 2, 1)] == {"pesapal": Decimal(-1770000), "azampay": Decimal(1000000)}
    assert months[date(2026, 3, 1)] == {"pesapal": Decimal(1700000), "azampay": Decimal(0)}
    assert months[date(2025, 4, 1)] == {"pesapal": 0, "azampay": 0}
    assert revenue.gateway_totals == {"pesapal": Decimal(1700000), "azampay": Decimal(1531000)}


def test_revenue_by_service(book):
    revenue = revenue_monthly(now=NOW)
    website = str(book.services["website"].pk)
    hosting = str(book.services["hosting"].pk)

    assert [(s.key, s.label) for s in revenue.services] == [
        (website, "Business website"),
        (hosting, "Web hosting"),
        (NO_SERVICE, NO_SERVICE_LABEL),
    ]
    march = next(m for m in revenue.months if m.month == date(2026, 3, 1))
    assert march.by_service == {
        website: Decimal(1500000),
        hosting: Decimal(0),
        NO_SERVICE: Decimal(200000),
    }
    assert revenue.service_totals == {
        website: Decimal(2500000),
        hosting: Decimal(531000),
        NO_SERVICE: Decimal(200000),
    }


def test_revenue_in_other_currencies_is_kept_apart(book):
    revenue = revenue_monthly(now=NOW)

    [usd] = revenue.other_currencies
    assert (usd.currency, usd.movement.received, usd.movement.net) == ("USD", 100, 100)
    assert usd.by_gateway == {"pesapal": Decimal(100)}


def test_revenue_folds_small_services_into_other(book, settings):
    website = book.services["website"]
    for index in range(6):
        service = type(website).objects.create(
            name=f"Extra {index}", slug=f"extra-{index}", summary="-", price=Decimal(1000 + index)
        )
        _, invoice = lead_at(local(2026, 3, 4), service)
        payment_at(local(2026, 3, 5), invoice, "pesapal")

    revenue = revenue_monthly(now=NOW)

    labels = [s.label for s in revenue.services]
    assert labels == [
        "Business website",
        "Web hosting",
        "No service (invoice made by staff)",
        "Extra 5",
        "Other services",
    ]
    # The five smallest extras (1,000..1,004 + 18% VAT each) are summed, not lost.
    assert revenue.service_totals[OTHER_SERVICES] == sum(
        Decimal(1000 + index) * Decimal("1.18") for index in range(5)
    )
    assert sum(revenue.service_totals.values()) == revenue.total.net


def test_revenue_is_one_query(book, django_assert_num_queries):
    with django_assert_num_queries(1):
        revenue_monthly(now=NOW)


# --- Unpaid by age --------------------------------------------------------------------------------


def test_unpaid_invoices_by_days_since_issue(book):
    unpaid = unpaid_by_age(now=NOW)

    assert unpaid.currency == "TZS"
    rows = [(b.key, b.label, b.count, b.total, b.due) for b in unpaid.buckets]
    assert rows == [
        # L2 (1 day) and B1 (issued 7 days ago, at 23:59)
        ("0-7", "0\u20137 days", 2, Decimal(1870000), Decimal(1870000)),
        # L8 (21 days; 1,000,000 of its 1,770,000 received) and B2 (8 days)
        ("8-30", "8\u201330 days", 2, Decimal(1870000), Decimal(870000)),
        # L6 (43 days) and B3 (60 days by the local date, 61 in UTC)
        ("31-60", "31\u201360 days", 2, Decimal(631000), Decimal(631000)),
        # L7 (80 days) and L9 (72 days, its payment charged back)
        ("60+", "Over 60 days", 2, Decimal(3540000), Decimal(3540000)),
    ]
    assert (unpaid.count, unpaid.total, unpaid.due) == (8, Decimal(7911000), Decimal(6911000))
    usd = unpaid.other_currencies["USD"]
    assert [(b.count, b.due) for b in usd] == [(0, 0), (1, Decimal(50)), (0, 0), (0, 0)]


def test_unpaid_is_two_queries(book, django_assert_num_queries):
    with django_assert_num_queries(2):
        unpaid_by_age(now=NOW)


def test_unpaid_with_nothing_owed_is_four_empty_buckets(db):
    unpaid = unpaid_by_age(now=NOW)
    assert [(b.key, b.count, b.total, b.due) for b in unpaid.buckets] == [
        ("0-7", 0, 0, 0),
        ("8-30", 0, 0, 0),
        ("31-60", 0, 0, 0),
        ("60+", 0, 0, 0),
    ]
    assert unpaid.other_currencies == {}


# --- What needs a person --------------------------------------------------------------------------


def test_open_review_cases_are_counted_and_listed_oldest_first(book):
    newer = review_case_at(local(2026, 3, 17), book.attempts["L1"])

    cases = review_cases_open(now=NOW)

    assert cases.count == 2
    assert [(w.item, w.days) for w in cases.oldest] == [(book.open_case, 21), (newer, 1)]


def test_refunds_in_flight_exclude_completed_ones(book):
    refunds = refunds_in_flight(now=NOW)

    assert refunds.count == 1
    assert [(w.item, w.days) for w in refunds.oldest] == [(book.refund_in_flight, 1)]


def test_open_lists_show_at_most_the_limit_but_count_all(book):
    for day in range(1, 4):
        review_case_at(
            local(2026, 3, day), payment_at(local(2026, 3, day), book.invoices["L2"], "pesapal")
        )

    cases = review_cases_open(now=NOW, limit=2)

    assert cases.count == 4
    assert cases.oldest[0].item == book.open_case
    assert len(cases.oldest) == 2


def test_dashboard_figures_gather_them_all(book):
    figures = dashboard_figures(now=NOW)

    assert figures.now == NOW
    assert figures.funnel.totals.leads == 8
    assert figures.revenue.total.net == Decimal(3231000)
    assert figures.unpaid.due == Decimal(6911000)
    assert (figures.review_cases.count, figures.refunds.count) == (1, 1)
