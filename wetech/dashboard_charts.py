"""The dashboard's charts, drawn on the server as inline SVG.

No chart library and no script: the Content-Security-Policy stays `script-src 'self'` and
`style-src 'self'`, so nothing here writes a `style` attribute or a `<style>` element. Colours,
fonts and strokes come from classes styled in `static/css/dashboard.css` (which follows the admin's
light and dark themes); the SVG carries only geometry.

Each chart is an `<svg role="img">` named by its `<title>` and summarised by its `<desc>`
(`aria-labelledby` points at both); every bar has a `<title>` that a pointer shows as a tooltip.
The exact numbers are in the data table the template puts under each chart, which is what a screen
reader reads. Every element is built by `_tag`, which escapes text and attributes, so the output
is well-formed XML.

Money is Decimal up to here; positions are floats, computed from it for drawing only.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils import dateformat
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from wetech.dashboard import EN_DASH, OTHER_SERVICES, Funnel, Revenue, UnpaidAges
from wetech.money import format_money

SVG_NS = "http://www.w3.org/2000/svg"

# The drawing is sized for a phone (about 360 px wide at 1:1) and scales with the page.
WIDTH = 360
COLUMN_HEIGHT = 230
FONT_SIZE = 11
# Tick labels sit just above their gridlines, over the plot (with a halo where they cross a
# bar) rather than in a margin: "TZS 10,000,000" would otherwise take a quarter of a phone's width.
TOP = 16
BOTTOM = 34
RIGHT = 6
ROW_HEIGHT = 42
NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))

# Series colour classes (see dashboard.css), in order; the last is kept for "Other".
SERIES_CLASSES = ("wt-s1", "wt-s2", "wt-s3", "wt-s4", "wt-s5")
OTHER_CLASS = "wt-s-other"


def _number(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros ("12", "12.5")."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _tag(name: str, attrs: dict | None = None, *children: str, text: str | None = None) -> str:
    parts = [name]
    for key, value in (attrs or {}).items():
        if value is None:
            continue
        if isinstance(value, float | int) and not isinstance(value, bool):
            value = _number(value)
        parts.append(f'{key}="{escape(value)}"')
    opening = " ".join(parts)
    body = (escape(text) if text is not None else "") + "".join(children)
    if not body:
        return f"<{opening}/>"
    return f"<{opening}>{body}</{name}>"


def nice_ticks(low: Decimal, high: Decimal, *, target: int = 4) -> list[Decimal]:
    """Round tick values covering [low, high] (0 always included), about `target` steps."""
    low, high = min(Decimal(low), Decimal(0)), max(Decimal(high), Decimal(0))
    if low == high:
        return [Decimal(0), Decimal(1)]
    raw = (high - low) / target
    exponent = raw.adjusted()
    magnitude = Decimal(10) ** exponent
    step = next(s * magnitude for s in NICE_STEPS if s * magnitude >= raw)
    if step < 1:
        step = Decimal(1)
    first = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    last = (high / step).to_integral_value(rounding="ROUND_CEILING") * step
    ticks, value = [], first
    while value <= last:
        ticks.append(value)
        value += step
    return ticks


@dataclass(frozen=True)
class ChartSeries:
    label: str
    values: Sequence[Decimal | int]
    css: str


@dataclass(frozen=True)
class Category:
    """An x-axis position: the name used in tooltips, and up to two short lines under the axis."""

    name: str
    line1: str
    line2: str = ""


def _svg(chart_id: str, title: str, description: str, height: float, *body: str) -> SafeString:
    svg = _tag(
        "svg",
        {
            "xmlns": SVG_NS,
            "class": "wt-chart-svg",
            "viewBox": f"0 0 {WIDTH} {_number(height)}",
            "role": "img",
            "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
            "focusable": "false",
        },
        _tag("title", {"id": f"{chart_id}-title"}, text=title),
        _tag("desc", {"id": f"{chart_id}-desc"}, text=description),
        *body,
    )
    return mark_safe(svg)  # noqa: S308 -- every text and attribute went through escape() in _tag


def column_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[Category],
    series: Sequence[ChartSeries],
    stacked: bool,
    tick_label: Callable[[Decimal], str],
    value_label: Callable[[Decimal | int], str],
) -> SafeString:
    """Vertical bars per category: side by side (grouped) or stacked. Stacked negative values
    (a month with more refunded than received) grow down from the zero line."""
    count = len(categories)
    tops, bottoms = [], []
    for index in range(count):
        values = [Decimal(s.values[index]) for s in series]
        if stacked:
            tops.append(sum((v for v in values if v > 0), Decimal(0)))
            bottoms.append(sum((v for v in values if v < 0), Decimal(0)))
        else:
            tops.append(max(values, default=Decimal(0)))
            bottoms.append(min(values, default=Decimal(0)))
    ticks = nice_ticks(min(bottoms, default=0), max(tops, default=0))
    low, high = float(ticks[0]), float(ticks[-1])
    plot_left, plot_right = 0, WIDTH - RIGHT
    plot_top, plot_bottom = TOP, COLUMN_HEIGHT - BOTTOM

    def y(value) -> float:
        return plot_bottom - (float(value) - low) / (high - low) * (plot_bottom - plot_top)

    grid, labels = [], []
    for tick in ticks:
        ty = y(tick)
        css = "wt-zero" if tick == 0 else "wt-gridline"
        grid.append(
            _tag("line", {"class": css, "x1": plot_left, "x2": plot_right, "y1": ty, "y2": ty})
        )
        if tick == 0 and low == 0:
            # The baseline needs no label, and it would sit on the first bars.
            continue
        labels.append(
            _tag(
                "text",
                {"class": "wt-tick wt-halo", "x": plot_left, "y": ty - 3},
                text=tick_label(tick),
            )
        )

    slot = (plot_right - plot_left) / max(count, 1)
    bars, x_labels = [], []
    for index, category in enumerate(categories):
        slot_left = plot_left + slot * index
        centre = slot_left + slot / 2
        x_labels.append(
            _tag(
                "text",
                {
                    "class": "wt-tick",
                    "x": centre,
                    "y": plot_bottom + FONT_SIZE + 3,
                    "text-anchor": "middle",
                },
                text=category.line1,
            )
        )
        if category.line2:
            x_labels.append(
                _tag(
                    "text",
                    {
                        "class": "wt-tick wt-tick-strong",
                        "x": centre,
                        "y": plot_bottom + 2 * FONT_SIZE + 5,
                        "text-anchor": "middle",
                    },
                    text=category.line2,
                )
            )
        if stacked:
            width = slot * 0.7
            up, down = Decimal(0), Decimal(0)
            for item in series:
                value = Decimal(item.values[index])
                if value == 0:
                    continue
                if value > 0:
                    top, bottom = y(up + value), y(up)
                    up += value
                else:
                    top, bottom = y(down), y(down + value)
                    down += value
                bars.append(
                    _bar(
                        centre - width / 2,
                        top,
                        width,
                        bottom - top,
                        item.css,
                        f"{category.name}: {item.label} {value_label(value)}",
                    )
                )
        else:
            group = slot * 0.84
            width = group / max(len(series), 1)
            for position, item in enumerate(series):
                value = Decimal(item.values[index])
                top, bottom = sorted((y(value), y(0)))
                bars.append(
                    _bar(
                        slot_left + (slot - group) / 2 + width * position,
                        top,
                        width * 0.9,
                        bottom - top,
                        item.css,
                        f"{category.name}: {item.label} {value_label(value)}",
                    )
                )
    return _svg(
        chart_id,
        title,
        description,
        COLUMN_HEIGHT,
        _tag("g", {"class": "wt-grid"}, *grid),
        _tag("g", {"class": "wt-bars"}, *bars),
        _tag("g", {"class": "wt-axis"}, *labels, *x_labels),
    )


def _bar(x: float, y: float, width: float, height: float, css: str, tooltip: str) -> str:
    # A zero-height bar still carries its tooltip; a hairline keeps it visible on hover.
    return _tag(
        "rect",
        {
            "class": f"wt-bar {css}",
            "x": x,
            "y": y,
            "width": max(width, 0.5),
            "height": max(height, 0.5),
        },
        _tag("title", text=tooltip),
    )


@dataclass(frozen=True)
class BarRow:
    label: str
    value: Decimal | int
    value_text: str
    css: str


def bar_rows_chart(
    *, chart_id: str, title: str, description: str, rows: Sequence[BarRow]
) -> SafeString:
    """Horizontal bars, one per row, each with its label above and its value at the bar's end:
    reads well on a narrow screen, whatever the length of the labels."""
    largest = max((Decimal(r.value) for r in rows), default=Decimal(0))
    usable = WIDTH - RIGHT
    body = []
    for index, row in enumerate(rows):
        top = index * ROW_HEIGHT
        share = float(Decimal(row.value) / largest) if largest > 0 else 0.0
        # Room on the right for the value when the bar is long; else the value sits inside.
        width = max(share * usable * 0.62, 0.5)
        body.append(
            _tag(
                "text", {"class": "wt-row-label", "x": 0, "y": top + FONT_SIZE + 2}, text=row.label
            )
        )
        body.append(
            _bar(0, top + FONT_SIZE + 7, width, 16, row.css, f"{row.label}: {row.value_text}")
        )
        body.append(
            _tag(
                "text",
                {"class": "wt-row-value", "x": width + 6, "y": top + FONT_SIZE + 19},
                text=row.value_text,
            )
        )
    return _svg(chart_id, title, description, max(len(rows), 1) * ROW_HEIGHT, *body)


# --- The dashboard's charts ----------------------------------------------------------------------


def _percent(rate: Decimal | None) -> str:
    return EN_DASH if rate is None else f"{rate}%"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _day(value) -> str:
    return dateformat.format(value, "j M Y")


def funnel_totals_chart(funnel: Funnel) -> SafeString:
    totals = funnel.totals
    rows = [
        BarRow("Leads", totals.leads, _plural(totals.leads, "lead", "leads"), "wt-funnel-leads"),
        BarRow(
            "Invoice issued",
            totals.invoiced,
            f"{totals.invoiced:,} · {_percent(totals.invoiced_rate)} of leads",
            "wt-funnel-invoiced",
        ),
        BarRow(
            "Paid",
            totals.paid,
            f"{totals.paid:,} · {_percent(totals.paid_rate)} of invoiced",
            "wt-funnel-paid",
        ),
    ]
    description = (
        f"Leads that arrived from {_day(funnel.start)} to {_day(funnel.end)}: "
        f"{_plural(totals.leads, 'lead', 'leads')}, {totals.invoiced:,} with an issued invoice "
        f"({_percent(totals.invoiced_rate)}), {totals.paid:,} paid "
        f"({_percent(totals.paid_rate)} of invoiced, {_percent(totals.overall_rate)} of leads)."
    )
    return bar_rows_chart(
        chart_id="chart-funnel-totals",
        title=f"Funnel over {len(funnel.weeks)} weeks",
        description=description,
        rows=rows,
    )


def funnel_weeks_chart(funnel: Funnel) -> SafeString:
    categories, previous_month = [], None
    for week in funnel.weeks:
        month = dateformat.format(week.week_start, "M")
        categories.append(
            Category(
                name=f"Week of {_day(week.week_start)}",
                line1=str(week.week_start.day),
                line2=month if month != previous_month else "",
            )
        )
        previous_month = month
    busiest = max(funnel.weeks, key=lambda w: w.leads, default=None)
    description = (
        f"Columns for each week from {_day(funnel.start)}, labelled by the Monday it starts: "
        f"leads, invoices issued and invoices paid for the leads of that week."
    )
    if busiest is not None and busiest.leads:
        description += (
            f" Busiest week: {_day(busiest.week_start)} with "
            f"{_plural(busiest.leads, 'lead', 'leads')}."
        )
    return column_chart(
        chart_id="chart-funnel-weeks",
        title="Leads, invoiced and paid per week",
        description=description,
        categories=categories,
        series=[
            ChartSeries("leads", [w.leads for w in funnel.weeks], "wt-funnel-leads"),
            ChartSeries("invoiced", [w.invoiced for w in funnel.weeks], "wt-funnel-invoiced"),
            ChartSeries("paid", [w.paid for w in funnel.weeks], "wt-funnel-paid"),
        ],
        stacked=False,
        tick_label=lambda tick: f"{tick:,}",
        value_label=lambda value: f"{value:,}",
    )


def series_classes(keys: Sequence[str], *, other_key: str | None = None) -> dict[str, str]:
    """A colour class per series key, stable in the order given ("Other" always grey)."""
    classes, palette = {}, iter(SERIES_CLASSES)
    for key in keys:
        classes[key] = OTHER_CLASS if key == other_key else next(palette, OTHER_CLASS)
    return classes


def _month_categories(revenue: Revenue) -> list[Category]:
    """Three-letter months; the year under each January, and under the first month too unless a
    January follows too closely for both years to fit."""
    months = [m.month for m in revenue.months]
    first_january = next((i for i, month in enumerate(months) if month.month == 1), None)
    categories = []
    for index, month in enumerate(months):
        show_year = month.month == 1 or (
            index == 0 and (first_january is None or first_january >= 3)
        )
        categories.append(
            Category(
                name=dateformat.format(month, "F Y"),
                line1=dateformat.format(month, "M"),
                line2=str(month.year) if show_year else "",
            )
        )
    return categories


def _revenue_chart(revenue: Revenue, *, split: str, chart_id: str, classes: dict) -> SafeString:
    series_list = revenue.gateways if split == "gateway" else revenue.services
    currency = revenue.currency
    series = [
        ChartSeries(
            s.label,
            [getattr(m, f"by_{split}")[s.key] for m in revenue.months],
            classes[s.key],
        )
        for s in series_list
    ]
    best = max(revenue.months, key=lambda m: m.net)
    description = (
        f"Stacked columns for each month from {dateformat.format(revenue.start, 'F Y')} to "
        f"{dateformat.format(revenue.end, 'F Y')}, one colour per {split}: money received in "
        f"{currency} less chargebacks and refunds. Net over the period: "
        f"{format_money(revenue.total.net, currency)}."
    )
    if best.net > 0:
        description += (
            f" Best month: {dateformat.format(best.month, 'F Y')} with "
            f"{format_money(best.net, currency)}."
        )
    return column_chart(
        chart_id=chart_id,
        title=f"Net revenue per month by {split} ({currency})",
        description=description,
        categories=_month_categories(revenue),
        series=series,
        stacked=True,
        tick_label=lambda tick: format_money(tick, currency),
        value_label=lambda value: format_money(value, currency),
    )


def revenue_gateway_chart(revenue: Revenue, classes: dict) -> SafeString:
    return _revenue_chart(
        revenue, split="gateway", chart_id="chart-revenue-gateway", classes=classes
    )


def revenue_service_chart(revenue: Revenue, classes: dict) -> SafeString:
    return _revenue_chart(
        revenue, split="service", chart_id="chart-revenue-service", classes=classes
    )


AGE_CLASSES = ("wt-age-1", "wt-age-2", "wt-age-3", "wt-age-4")


def unpaid_age_chart(unpaid: UnpaidAges) -> SafeString:
    currency = unpaid.currency
    rows = [
        BarRow(
            f"{bucket.label} · {_plural(bucket.count, 'invoice', 'invoices')}",
            bucket.due,
            format_money(bucket.due, currency),
            css,
        )
        for bucket, css in zip(unpaid.buckets, AGE_CLASSES, strict=True)
    ]
    parts = [
        f"{bucket.label}: {_plural(bucket.count, 'invoice', 'invoices')}, "
        f"{format_money(bucket.due, currency)} due"
        for bucket in unpaid.buckets
    ]
    description = (
        f"Unpaid invoices in {currency} by days since they were issued. " + "; ".join(parts) + "."
    )
    return bar_rows_chart(
        chart_id="chart-unpaid-age",
        title=f"Unpaid invoices by age ({currency} due)",
        description=description,
        rows=rows,
    )


# --- What the template shows beside each chart ---------------------------------------------------


@dataclass(frozen=True)
class LegendItem:
    label: str
    css: str


@dataclass(frozen=True)
class RevenueTable:
    """A chart's numbers as rows: the month, one amount per series, the month's net."""

    series: list[str]
    rows: list[tuple[str, list[Decimal], Decimal]]
    totals: list[Decimal]
    net: Decimal


def revenue_table(revenue: Revenue, *, split: str) -> RevenueTable:
    series_list = revenue.gateways if split == "gateway" else revenue.services
    totals = revenue.gateway_totals if split == "gateway" else revenue.service_totals
    return RevenueTable(
        series=[s.label for s in series_list],
        rows=[
            (
                dateformat.format(m.month, "F Y"),
                [getattr(m, f"by_{split}")[s.key] for s in series_list],
                m.net,
            )
            for m in revenue.months
        ],
        totals=[totals[s.key] for s in series_list],
        net=revenue.total.net,
    )


@dataclass(frozen=True)
class DashboardCharts:
    funnel_totals: SafeString
    funnel_weeks: SafeString
    funnel_legend: list[LegendItem]
    revenue_gateway: SafeString
    revenue_gateway_legend: list[LegendItem]
    revenue_gateway_table: RevenueTable
    revenue_service: SafeString
    revenue_service_legend: list[LegendItem]
    revenue_service_table: RevenueTable
    unpaid_age: SafeString


def dashboard_charts(figures) -> DashboardCharts:
    """Every chart of the page, with its legend and table, from `dashboard.dashboard_figures()`."""
    revenue = figures.revenue
    gateway_classes = series_classes([s.key for s in revenue.gateways])
    service_classes = series_classes([s.key for s in revenue.services], other_key=OTHER_SERVICES)
    return DashboardCharts(
        funnel_totals=funnel_totals_chart(figures.funnel),
        funnel_weeks=funnel_weeks_chart(figures.funnel),
        funnel_legend=[
            LegendItem("Leads", "wt-funnel-leads"),
            LegendItem("Invoice issued", "wt-funnel-invoiced"),
            LegendItem("Paid", "wt-funnel-paid"),
        ],
        revenue_gateway=revenue_gateway_chart(revenue, gateway_classes),
        revenue_gateway_legend=[
            LegendItem(s.label, gateway_classes[s.key]) for s in revenue.gateways
        ],
        revenue_gateway_table=revenue_table(revenue, split="gateway"),
        revenue_service=revenue_service_chart(revenue, service_classes),
        revenue_service_legend=[
            LegendItem(s.label, service_classes[s.key]) for s in revenue.services
        ],
        revenue_service_table=revenue_table(revenue, split="service"),
        unpaid_age=unpaid_age_chart(figures.unpaid),
    )
