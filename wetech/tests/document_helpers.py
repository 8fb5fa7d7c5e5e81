"""Reading documents back in tests (plain functions)."""

import io

from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    """All the text of a PDF as pypdf extracts it, each line's runs of spaces made one."""
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return "\n".join(" ".join(line.split()) for line in text.splitlines())
