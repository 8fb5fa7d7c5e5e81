"""The public invoice page and its status JSON, found by the invoice's unguessable token."""

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from wetech.forms import AzamPayForm
from wetech.models import Invoice
from wetech.payments.start import payment_options
from wetech.sales.selectors import invoice_payment_state, invoice_public_get, invoice_status_payload


def _public_invoice(token: str) -> Invoice:
    invoice = invoice_public_get(token=token)
    if invoice is None:
        raise Http404("no such invoice")
    return invoice


def invoice_page(request, invoice: Invoice, *, status: int = 200, **payment_context):
    """The invoice page; the pay views re-render it with a form's errors or a gateway problem."""
    context = {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "pay_options": payment_options(invoice),
        **invoice_payment_state(invoice),
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
def invoice_status(request, token):
    return JsonResponse(invoice_status_payload(_public_invoice(token)))
