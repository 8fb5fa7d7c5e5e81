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
from wetech.models import Invoice
from wetech.sales.selectors import invoice_document

logger = logging.getLogger(__name__)

PDF_MIME_TYPE = "application/pdf"
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


def invoice_pdf_attachments(*, invoice: Invoice) -> list[tuple[str, bytes, str]]:
    """The invoice's PDF as an email attachment list for `wetech.emails.email_send`.

    Empty (and logged) when it cannot be drawn: the email it goes with (a receipt) matters more
    than the file, which stays at the invoice's `/pdf/` link.
    """
    try:
        pdf = invoice_pdf_render(invoice=invoice)
    except Exception:
        logger.exception("PDF of invoice %s could not be rendered for an email", invoice.number)
        return []
    return [(invoice_pdf_filename(invoice), pdf, PDF_MIME_TYPE)]
