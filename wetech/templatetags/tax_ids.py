"""Template filter for tax numbers: `{{ invoice.client_tin|tin }}` gives "123-456-789"."""

from django import template

from wetech.tin import tin_format

register = template.Library()


@register.filter
def tin(value):
    return tin_format(value or "")
