"""The public invoice page and its status JSON, found by the invoice's unguessable token."""

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from wetech.models import Invoice
from wetech.services.invoicing import invoice_status_payload


def _public_invoice(token: str) -> Invoice:
    # Drafts are not documents yet: nobody outside the back office sees them.
    invoice = (
        Invoice.objects.exclude(status=Invoice.Status.DRAFT)
        .select_related("client")
        .filter(token=token)
        .first()
    )
    if invoice is None:
        raise Http404("no such invoice")
    return invoice


@never_cache
@require_GET
def invoice_detail(request, token):
    invoice = _public_invoice(token)
    return render(
        request,
        "invoices/detail.html",
        {"invoice": invoice, "lines": invoice.lines.all()},
    )


@never_cache
@require_GET
def invoice_status(request, token):
    return JsonResponse(invoice_status_payload(_public_invoice(token)))
