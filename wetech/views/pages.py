"""Company pages: home with the catalogue, a service with its lead form, contact, thanks."""

from urllib.parse import urlsplit

from django.conf import settings
from django.shortcuts import get_object_or_404, render

from wetech.forms import LeadForm, lead_form_token
from wetech.models import Lead
from wetech.money import format_rate_percent
from wetech.sales.selectors import service_list_offered


def _tracking_initial(request) -> dict:
    """Hidden-field values captured when the form is rendered, so they work without JavaScript."""
    initial = {field: request.GET.get(field, "")[:200] for field in Lead.UTM_FIELDS}
    initial["landing_page"] = request.get_full_path()[:500]
    initial["referrer"] = request.META.get("HTTP_REFERER", "")[:500]
    return initial


def lead_form_context(request, *, form=None, service=None) -> dict:
    """What the lead-form templates need; `form` is a bound form when re-rendering errors."""
    if form is None:
        initial = _tracking_initial(request)
        if service is not None:
            initial["service"] = service.slug
        form = LeadForm(initial=initial)
    return {"form": form, "service": service, "form_token": lead_form_token()}


def source_page_of(landing_page: str) -> str:
    """The path part of the page a form was on (for filtering leads by where they came from)."""
    return urlsplit(landing_page).path[:200]


def home(request):
    context = {
        "services": service_list_offered(),
        "tax_percent": format_rate_percent(settings.INVOICE_TAX_RATE),
    }
    return render(request, "pages/home.html", context)


def service_detail(request, slug):
    service = get_object_or_404(service_list_offered(), slug=slug)
    return render(request, "pages/service_detail.html", lead_form_context(request, service=service))


def contact(request):
    return render(request, "pages/contact.html", lead_form_context(request))


def lead_thanks(request):
    return render(request, "leads/thanks.html")
