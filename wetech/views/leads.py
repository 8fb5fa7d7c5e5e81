"""`POST /leads/`: capture a lead from a page form or a JSON client."""

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from wetech.client_ip import client_ip, client_ip_ratelimit_key
from wetech.forms import LeadForm
from wetech.models import Lead
from wetech.ratelimit import ratelimit
from wetech.sales.emails import invoice_absolute_url
from wetech.sales.leads import lead_capture
from wetech.sales.selectors import invoice_status_payload
from wetech.views.errors import error_payload, rate_limited, wants_json
from wetech.views.pages import lead_form_context, source_page_of

INVALID_MESSAGE = _("Some details need another look before we can send your request.")
SPAM_MESSAGE = _("We could not accept this form as it was sent.")


def _leads_per_minute(group, request):
    return settings.LEADS_RATE_LIMIT


def _leads_per_day(group, request):
    return settings.LEADS_DAILY_LIMIT


def _invalid(request, form):
    message = SPAM_MESSAGE if form.is_spam else INVALID_MESSAGE
    if wants_json(request):
        suggestions = (
            [_("Reload the page, wait a few seconds and send the form again.")]
            if form.is_spam
            else [_("Correct the fields listed in `fields` and send the form again.")]
        )
        fields = {name: [str(error) for error in errors] for name, errors in form.errors.items()}
        payload = error_payload(
            request,
            code="validation_error",
            message=message,
            suggestions=suggestions,
            fields=fields,
        )
        return JsonResponse(payload, status=400)
    # Re-render the page the form came from: a service page when the service is still offered.
    service = form.cleaned_data.get("service")
    template = "pages/service_detail.html" if service else "pages/contact.html"
    context = lead_form_context(request, form=form, service=service)
    context["form_message"] = message
    # The page this is (for the language switcher): not /leads/, which only takes a POST.
    context["page_path"] = service.get_absolute_url() if service else reverse("contact")
    return render(request, template, context, status=400)


def _created(request, lead, invoice):
    if wants_json(request):
        invoice_json = None
        if invoice is not None:
            invoice_json = {**invoice_status_payload(invoice), "url": invoice_absolute_url(invoice)}
        lead_json = {
            "status": lead.status,
            "service": lead.service.slug if lead.service_id else None,
            # The language its emails and invoice are in (from Accept-Language or /sw/).
            "language": lead.language,
            "created_at": lead.created_at.isoformat(),
        }
        return JsonResponse({"lead": lead_json, "invoice": invoice_json}, status=201)
    target = invoice.get_absolute_url() if invoice is not None else reverse("lead_thanks")
    response = HttpResponseRedirect(target)
    # 303: the browser follows with a GET, so reloading the next page never re-posts the lead.
    response.status_code = 303
    return response


@require_POST
@ratelimit(key=client_ip_ratelimit_key, rate=_leads_per_day, group="leads-day", block=False)
@ratelimit(key=client_ip_ratelimit_key, rate=_leads_per_minute, group="leads-minute", block=False)
def lead_create(request):
    if getattr(request, "limited", False):
        return rate_limited(request)
    form = LeadForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form)
    data = form.cleaned_data
    lead, invoice = lead_capture(
        name=data["name"],
        email=data["email"],
        phone=data["phone"],
        company=data["company"],
        tin=data["tin"],
        service=data["service"],
        message=data["message"],
        marketing_consent=data["marketing_consent"],
        ip_address=client_ip(request) or None,
        source_page=source_page_of(data["landing_page"]),
        landing_page=data["landing_page"],
        referrer=data["referrer"],
        utm={field: data[field] for field in Lead.UTM_FIELDS},
        # The page's language (/sw/ prefix), or a JSON client's Accept-Language.
        language=translation.get_language(),
    )
    return _created(request, lead, invoice)
