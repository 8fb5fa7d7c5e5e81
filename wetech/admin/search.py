"""What staff type in a back-office search box decides how it is looked up.

Django's default search ORs `UPPER(column) LIKE '%term%'` over every search field, joins
included: at 200,000 invoices that reads whole tables for every search (0.4 to 1.8 s each). What
is typed says what is looked for, so each kind is looked up on an indexed column:

- an invoice number, payment, refund or credit-note reference (`WT-2025-01234`,
  `WT-2025-01234-9F3A2B1C`, `CN-2025-00012`, or the start of one): exactly when complete, else by
  prefix (every payment and refund reference starts with its invoice's number);
- an email address: exactly, as stored (trimmed and lowercased);
- a phone number, in any usual writing (`0712 345 678`, `+255 712 345 678`): exactly, in E.164;
- anything else is words: a name or a company, searched as substrings (each word must match), on
  PostgreSQL through the pg_trgm indexes of migration 0011; or one opaque token such as a
  gateway's reference, looked up exactly where the admin has such a column.
"""

import re
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_

from django import forms
from django.db.models import Q

from wetech.forms import phone_to_e164
from wetech.models import Invoice
from wetech.models.payments import Gateway

REFERENCE = re.compile(r"(WT|CN)-[0-9A-Z-]*", re.IGNORECASE)
# A whole number (the sequence has 5 digits, more after 99,999): looked up exactly.
WHOLE_NUMBER = re.compile(r"(WT|CN)-[0-9]{4}-[0-9]{5,}")
WHOLE_PAYMENT = re.compile(r"WT-[0-9]{4}-[0-9]{5,}-[0-9A-F]{8}")
WHOLE_REFUND = re.compile(r"WT-[0-9]{4}-[0-9]{5,}-RF[0-9A-F]{8}")
# The invoice number a reference starts with (a payment's or refund's reference does).
NUMBER_OF_REFERENCE = re.compile(r"(WT-[0-9]{4}-[0-9]{5,})(?:-|$)")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{6,}[0-9]")


@dataclass(frozen=True)
class SearchTerm:
    """One search, read: `kind` is reference, email, phone or words; `value` is normalised
    (an upper-case reference, a lower-case email, an E.164 phone, the text as typed)."""

    kind: str
    value: str
    typed: str = ""

    @property
    def words(self) -> list[str]:
        return self.value.split()

    @property
    def is_token(self) -> bool:
        """One word that is not a name: an opaque reference such as a gateway's."""
        return len(self.words) == 1 and any(c.isdigit() for c in self.value)

    @property
    def is_whole(self) -> bool:
        return any(
            pattern.fullmatch(self.value) for pattern in (WHOLE_NUMBER, WHOLE_PAYMENT, WHOLE_REFUND)
        )


def search_term_read(text: str) -> SearchTerm | None:
    """What kind of thing `text` is (None for a blank search)."""
    text = " ".join(text.split())
    if not text:
        return None
    if REFERENCE.fullmatch(text):
        return SearchTerm("reference", text.upper(), text)
    if EMAIL.fullmatch(text):
        return SearchTerm("email", text.lower(), text)
    if PHONE.fullmatch(text):
        try:
            return SearchTerm("phone", phone_to_e164(text), text)
        except forms.ValidationError:
            pass
    return SearchTerm("words", text, text)


def reference_q(field: str, term: SearchTerm) -> Q:
    """`field` equal to a whole number or reference, or starting with what was typed."""
    if term.is_whole:
        return Q(**{field: term.value})
    return Q(**{f"{field}__startswith": term.value})


def invoice_number_q(field: str, term: SearchTerm) -> Q:
    """Invoices (`field` is their number) that a typed reference names: a whole number, the
    number a payment or refund reference starts with, or the start of a number."""
    match = NUMBER_OF_REFERENCE.match(term.value)
    if match:
        return Q(**{field: match[1]})
    return Q(**{f"{field}__startswith": term.value})


def payment_reference_q(field: str, term: SearchTerm) -> Q:
    """Payments (`field` is their merchant reference) that a typed reference names: one payment
    by its whole reference, an invoice's payments by its number (or a refund's reference), or
    those whose reference starts with what was typed."""
    if WHOLE_PAYMENT.fullmatch(term.value):
        return Q(**{field: term.value})
    match = NUMBER_OF_REFERENCE.match(term.value)
    prefix = f"{match[1]}-" if match else term.value
    return Q(**{f"{field}__startswith": prefix})


def words_q(term: SearchTerm, *fields: str) -> Q:
    """Every word in one of `fields`, as a substring (case-insensitive)."""
    each_word = (
        reduce(or_, (Q(**{f"{field}__icontains": word}) for field in fields)) for word in term.words
    )
    return reduce(and_, each_word)


def invoices_q(term: SearchTerm, field: str = "invoice_id") -> Q | None:
    """Rows whose invoice (by `field`, its id) the term names: its number (or a reference
    starting with it), its client's email or phone, or words of the client's name or company.
    A subquery on the invoices' indexed columns, never a join to every invoice."""
    if term.kind == "reference":
        if term.value.startswith("CN-"):
            return None
        invoices = Invoice.objects.filter(invoice_number_q("number", term))
    elif term.kind == "email":
        invoices = Invoice.objects.filter(client_email=term.value)
    elif term.kind == "phone":
        invoices = Invoice.objects.filter(client_phone=term.value)
    else:
        invoices = Invoice.objects.filter(words_q(term, "client_name", "client_company"))
    return Q(**{f"{field}__in": invoices.values("pk")})


def gateway_reference_q(term: SearchTerm) -> Q:
    """A gateway's own reference, exactly; naming every gateway lets the (gateway, reference)
    unique indexes find it."""
    return Q(gateway__in=Gateway.values, gateway_reference=term.typed)


def any_of(model, *conditions: Q) -> Q:
    """Rows of `model` matching any of `conditions`, as one union of the ids each finds: an OR
    of subqueries or of columns on different indexes is estimated by PostgreSQL to match most of
    the table, which then plans full scans for the list's joins."""
    found = [model.objects.filter(condition).order_by().values("pk") for condition in conditions]
    return Q(pk__in=found[0].union(*found[1:]))


class TypedSearchMixin:
    """`get_search_results` through the admin's `search_condition(term)`: a Q on indexed columns,
    or None when this kind of term cannot match anything here."""

    def search_condition(self, term: SearchTerm) -> Q | None:
        raise NotImplementedError

    def get_search_results(self, request, queryset, search_term):
        term = search_term_read(search_term)
        if term is None:
            return queryset, False
        condition = self.search_condition(term)
        if condition is None:
            return queryset.none(), False
        # Subqueries, never joins to many rows: no duplicates to remove.
        return queryset.filter(condition), False
