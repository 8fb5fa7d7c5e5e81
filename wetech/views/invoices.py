"""The public invoice page, its PDF and its status JSON, found by the invoice's secret token."""

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from wetech.forms import AzamPayForm
from wetech.models import Invoice
from wetech.payments.start import payment_options
from wetech.sales.documents import PDF_MIME_TYPE, invoice_pdf_filename, invoice_pdf_render
from wetech.sales.selectors import (
    invoice_attempts_latest,
    invoice_document,
    invoice_payment_state,
    invoice_public_get,
    invoice_status_payload,
)


def _public_invoice(token: str) -> Invoice:
    invoice = invoice_public_get(token=token)
    if invoice is None:
        raise Http404("no such invoice")
    return invoice


def invoice_page(request, invoice: Invoice, *, status: int = 200, **payment_context):
    """The invoice page; the pay views re-render it with a form's errors or a gateway problem."""
    attempts = invoice_attempts_latest(invoice)
    context = {
        **invoice_document(invoice, attempts=attempts),
        "pay_options": payment_options(invoice),
        **invoice_payment_state(invoice, attempts=attempts),
        **payment_context,
    }
    context.setdefault("azampay_form", AzamPayForm(initial={"phone": invoice.client_phone}))
    return render(request, "invoices/detail.html", context, status=status)


@never_cache
@require_GET
def invoice_detail(request, token):
    return invoice_page(request, _public_invoice(token))


@never_cache
@require_GET
def invoice_pdf(request, token):
    invoice = _public_invoice(token)
    response = HttpResponse(invoice_pdf_render(invoice=invoice), content_type=PDF_MIME_TYPE)
    # Inline: the browser shows it, and saving it keeps the invoice's number as its name.
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=False, filename=invoice_pdf_filename(invoice)
    )
    # Like the page (its meta robots): a link that leaked must not end up in a search index.
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_GET
def invoice_status(request, token):
    return JsonResponse(invoice_status_payload(_public_invoice(token)))
