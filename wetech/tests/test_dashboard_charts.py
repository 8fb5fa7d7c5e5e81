"""The SVG charts: geometry, labels with thousands separators, escaping, well-formed XML."""

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest

from wetech.dashboard import (
    Funnel,
    FunnelStage,
    FunnelWeek,
    Movement,
    Revenue,
    RevenueMonth,
    Series,
    dashboard_figures,
)
from wetech.dashboard_charts import (
    BarRow,
    Category,
    ChartSeries,
    bar_rows_chart,
    column_chart,
    dashboard_charts,
    funnel_weeks_chart,
    nice_ticks,
    revenue_gateway_chart,
    revenue_table,
    series_classes,
)
from wetech.money import format_money

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 -- our own output, parsed to prove it is well-formed


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def rects(root: ET.Element) -> list[dict]:
    return [
        {
            "x": float(r.get("x")),
            "y": float(r.get("y")),
            "width": float(r.get("width")),
            "height": float(r.get("height")),
            "class": r.get("class"),
            "title": r.find(f"{SVG}title").text,
        }
        for r in root.iter(f"{SVG}rect")
    ]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 1770000, [0, 500000, 1000000, 1500000, 2000000]),
        (-770000, 1700000, [-1000000, 0, 1000000, 2000000]),
        (0, 18, [0, 5, 10, 15, 20]),
        (0, 3, [0, 1, 2, 3]),
        (0, 0, [0, 1]),
        (0, Decimal("0.40"), [0, 1]),
    ],
)
def test_nice_ticks_cover_the_data_with_round_steps(low, high, expected):
    assert nice_ticks(Decimal(low), Decimal(high)) == [Decimal(v) for v in expected]


def _money_chart(series, categories=None, *, stacked=True):
    categories = categories or [
        Category(f"Month {i}", str(i)) for i in range(len(series[0].values))
    ]
    return column_chart(
        chart_id="test",
        title="Net <revenue> & more",
        description='Money "in" TZS',
        categories=categories,
        series=series,
        stacked=stacked,
        tick_label=lambda tick: format_money(tick, "TZS"),
        value_label=lambda value: format_money(value, "TZS"),
    )


def test_column_chart_is_accessible_well_formed_svg_without_style():
    svg = _money_chart([ChartSeries("Pesapal", [Decimal(1770000), Decimal(0)], "wt-s1")])

    assert "style" not in svg
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "test-title test-desc"
    assert root.find(f"{SVG}title").text == "Net <revenue> & more"
    assert root.find(f"{SVG}title").get("id") == "test-title"
    assert root.find(f"{SVG}desc").text == 'Money "in" TZS'
    # Ticks with thousands separators; the baseline "TZS 0" is left unlabelled.
    assert texts(root)[:4] == ["TZS 500,000", "TZS 1,000,000", "TZS 1,500,000", "TZS 2,000,000"]
    # A stacked segment of zero is not drawn: nothing to stack.
    [bar] = rects(root)
    assert bar["title"] == "Month 0: Pesapal TZS 1,770,000"
    assert bar["class"] == "wt-bar wt-s1"


def test_stacked_columns_put_positives_above_and_negatives_below_zero():
    svg = _money_chart(
        [
            ChartSeries("Pesapal", [Decimal(-1770000)], "wt-s1"),
            ChartSeries("AzamPay", [Decimal(1000000)], "wt-s2"),
            ChartSeries("Other", [Decimal(500000)], "wt-s3"),
        ]
    )
    root = parse(svg)
    zero = next(line for line in root.iter(f"{SVG}line") if line.get("class") == "wt-zero")
    zero_y = float(zero.get("y1"))
    pesapal, azampay, other = rects(root)

    assert pesapal["y"] == pytest.approx(zero_y)  # grows down from zero
    assert azampay["y"] + azampay["height"] == pytest.approx(zero_y)  # sits on zero
    assert other["y"] + other["height"] == pytest.approx(azampay["y"])  # stacked on AzamPay
    # Heights are proportional to the amounts: 1,770,000 : 1,000,000 : 500,000.
    assert pesapal["height"] / azampay["height"] == pytest.approx(1.77)
    assert other["height"] / azampay["height"] == pytest.approx(0.5)
    assert "TZS -1,000,000" in texts(root) and "TZS 0" in texts(root)


def test_grouped_columns_stand_side_by_side_in_their_slot():
    svg = column_chart(
        chart_id="funnel",
        title="t",
        description="d",
        categories=[Category("Week of 2 Mar", "2", "Mar"), Category("Week of 9 Mar", "9")],
        series=[
            ChartSeries("leads", [4, 2], "wt-funnel-leads"),
            ChartSeries("paid", [2, 0], "wt-funnel-paid"),
        ],
        stacked=False,
        tick_label=str,
        value_label=str,
    )
    root = parse(svg)
    bars = rects(root)
    assert [b["title"] for b in bars] == [
        "Week of 2 Mar: leads 4",
        "Week of 2 Mar: paid 2",
        "Week of 9 Mar: leads 2",
        "Week of 9 Mar: paid 0",
    ]
    leads, paid = bars[0], bars[1]
    assert paid["x"] > leads["x"] and paid["height"] == pytest.approx(leads["height"] / 2)
    assert bars[2]["x"] > paid["x"] + paid["width"]
    # After the count ticks (1..4), the axis: day of each Monday, the month under its first.
    assert texts(root)[-3:] == ["2", "Mar", "9"]


def test_labels_are_escaped_not_interpreted():
    svg = bar_rows_chart(
        chart_id="rows",
        title="Rows",
        description="d",
        rows=[BarRow('<script>alert("x")</script> & co', 10, "TZS 10", "wt-s1")],
    )
    assert "<script>" not in svg
    root = parse(svg)
    assert '<script>alert("x")</script> & co' in texts(root)


def test_bar_rows_are_proportional_and_zero_stays_visible():
    root = parse(
        bar_rows_chart(
            chart_id="rows",
            title="t",
            description="d",
            rows=[
                BarRow("A", Decimal(3540000), "TZS 3,540,000", "wt-age-4"),
                BarRow("B", Decimal(1770000), "TZS 1,770,000", "wt-age-3"),
                BarRow("C", Decimal(0), "TZS 0", "wt-age-2"),
            ],
        )
    )
    a, b, c = rects(root)
    assert b["width"] == pytest.approx(a["width"] / 2)
    assert c["width"] == 0.5
    assert root.get("viewBox") == "0 0 360 126"


def _revenue(months: list[date]) -> Revenue:
    return Revenue(
        currency="TZS",
        months=[
            RevenueMonth(
                month=m,
                movement=Movement(received=Decimal(100)),
                by_gateway={"pesapal": Decimal(100)},
                by_service={},
            )
            for m in months
        ],
        gateways=[Series("pesapal", "Pesapal")],
        services=[],
        total=Movement(received=Decimal(100) * len(months)),
        gateway_totals={"pesapal": Decimal(100) * len(months)},
        service_totals={},
        other_currencies=[],
        start=months[0],
        end=months[-1],
    )


@pytest.mark.parametrize(
    ("first_month", "years_shown"),
    [
        # Dec 2025 .. Nov 2026: "2025" under December would collide with "2026" under January.
        (date(2025, 12, 1), ["2026"]),
        (date(2025, 4, 1), ["2025", "2026"]),
        (date(2026, 1, 1), ["2026"]),
    ],
)
def test_month_axis_names_the_year_where_it_fits(first_month, years_shown):
    months, year, month = [], first_month.year, first_month.month
    for _ in range(12):
        months.append(date(year, month, 1))
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    root = parse(revenue_gateway_chart(_revenue(months), {"pesapal": "wt-s1"}))

    assert [t for t in texts(root) if t.isdigit() and len(t) == 4] == years_shown


def test_series_classes_are_stable_and_other_is_grey():
    assert series_classes(["7", "3", "__other__"], other_key="__other__") == {
        "7": "wt-s1",
        "3": "wt-s2",
        "__other__": "wt-s-other",
    }


def test_revenue_table_lists_every_month_and_series():
    revenue = _revenue([date(2026, 2, 1), date(2026, 3, 1)])
    table = revenue_table(revenue, split="gateway")
    assert table.series == ["Pesapal"]
    assert table.rows == [
        ("February 2026", [Decimal(100)], Decimal(100)),
        ("March 2026", [Decimal(100)], Decimal(100)),
    ]
    assert (table.totals, table.net) == ([Decimal(200)], Decimal(200))


def test_funnel_week_axis_shows_the_month_when_it_changes():
    weeks = [
        FunnelWeek(week_start=day, leads=1, invoiced=1, paid=0)
        for day in (date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9))
    ]
    funnel = Funnel(
        weeks=weeks,
        totals=FunnelStage(leads=3, invoiced=3, paid=0),
        start=weeks[0].week_start,
        end=date(2026, 3, 15),
    )
    root = parse(funnel_weeks_chart(funnel))
    labels = texts(root)
    assert labels[-5:] == ["23", "Feb", "2", "Mar", "9"]


@pytest.mark.django_db
def test_every_chart_of_an_empty_site_parses():
    charts = dashboard_charts(dashboard_figures())
    for svg in (
        charts.funnel_totals,
        charts.funnel_weeks,
        charts.revenue_gateway,
        charts.revenue_service,
        charts.unpaid_age,
    ):
        assert parse(svg).find(f"{SVG}desc").text
