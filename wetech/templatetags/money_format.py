"""Template filters for money: `{{ amount|money:invoice.currency }}` gives "TZS 1,500,000"."""

from django import template

from wetech.money import DEFAULT_CURRENCY, format_amount, format_money

register = template.Library()


@register.filter
def money(value, currency=DEFAULT_CURRENCY):
    if value is None or value == "":
        return ""
    return format_money(value, currency or DEFAULT_CURRENCY)


@register.filter
def amount(value):
    """The number alone, for table cells under a currency heading."""
    if value is None or value == "":
        return ""
    return format_amount(value)
