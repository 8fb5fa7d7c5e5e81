"""Invoice documents as PDF files: the invoice (with its receipt once paid, and its credit notes)
for its `/pdf/` link and the receipt email.

The PDF is the invoice page's own document body (`invoices/_document.html`) inside
`invoices/pdf.html`, which brings the print styles, and is drawn by xhtml2pdf: pure Python on
ReportLab, so `make run` needs nothing but the package index. Text stays text (selectable,
searchable, read aloud), in a font embedded from ReportLab's own files.

It is a tax invoice, not an EFD/VFD fiscal receipt: the fiscal device's receipt, where one is
due, comes from that device.
"""

import logging
from io import BytesIO
from pathlib import Path

import reportlab
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from wetech.company import company_get
from wetech.emails import attachment_renderer_register
from wetech.models import Invoice
from wetech.sales.selectors import invoice_document

logger = logging.getLogger(__name__)

PDF_MIME_TYPE = "application/pdf"
# The attachment kind the outbox renders with `invoice_pdf_attachment`.
INVOICE_PDF = "invoice_pdf"
# Bitstream Vera, which ReportLab ships: embedded (only the letters used), so names with accents
# (é, ł, ş) print as typed, where the PDF viewers' built-in Helvetica knows Western European only.
FONT_DIR = Path(reportlab.__file__).resolve().parent / "fonts"
LOGO = "img/favicon.svg"


class DocumentRenderError(Exception):
    """The PDF could not be drawn (the renderer reported errors)."""


def invoice_pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number}.pdf"


def _logo_path() -> Path | None:
    found = finders.find(LOGO)
    return Path(found).resolve() if found else None


def invoice_pdf_render(*, invoice: Invoice) -> bytes:
    """The invoice as a PDF: the same content as its printable page, in the invoice's language
    (the customer's, stored at issue), whoever asks for it. Raises DocumentRenderError.

    Reads what it shows itself (lines, receipt, refunds: three or four queries), so a background
    task can call it with nothing but the invoice.
    """
    logo = _logo_path()
    context = {
        **invoice_document(invoice),
        "company": company_get(),
        "logo_src": logo.as_posix() if logo else "",
        "font_dir": FONT_DIR.as_posix(),
    }
    with translation.override(invoice.language):
        html = render_to_string("invoices/pdf.html", context)
    # The document reads the logo and the fonts from disk and nothing else: no network at all, and
    # no file outside those two folders, whatever a customer typed into a field.
    policy = ResourceAccessPolicy.server(
        base_dir=logo.parent if logo else None,
        extra_roots=(FONT_DIR,),
        allow_remote=False,
    )
    output = BytesIO()
    status = pisa.CreatePDF(html, dest=output, encoding="utf-8", resource_policy=policy)
    if status.err:
        raise DocumentRenderError(f"invoice {invoice.number}: {status.err} rendering error(s)")
    return output.getvalue()


def invoice_pdf_attachment(*, invoice_id: int) -> tuple[str, bytes, str]:
    """The invoice's PDF as an email attachment, drawn by the worker when it sends the email
    (`attachments=[{"kind": "invoice_pdf", "invoice_id": ...}]` in `email_send`)."""
    invoice = Invoice.objects.get(pk=invoice_id)
    return invoice_pdf_filename(invoice), invoice_pdf_render(invoice=invoice), PDF_MIME_TYPE


def invoice_pdf_attachment_spec(*, invoice: Invoice) -> list[dict]:
    """What to pass as `attachments=` for an email that carries the invoice's PDF."""
    return [{"kind": INVOICE_PDF, "invoice_id": invoice.pk}]


attachment_renderer_register(INVOICE_PDF, invoice_pdf_attachment)
