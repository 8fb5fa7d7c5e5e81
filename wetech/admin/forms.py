"""The forms of the staff actions' confirmation pages: each asks why, and what it must know."""

from decimal import Decimal

from django import forms

from wetech.models import PaymentAttempt, ReviewCase
from wetech.money import format_money

REASON_HELP = "Kept in the audit trail with your name and the time."


def _reason_field(label="Reason"):
    return forms.CharField(
        label=label,
        max_length=2000,
        help_text=REASON_HELP,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say why: the reason is kept in the audit trail."},
    )


class ReasonForm(forms.Form):
    """Void an invoice: the reason is all it asks."""

    reason = _reason_field()


class ResendForm(forms.Form):
    email = forms.ChoiceField(label="Which email", widget=forms.RadioSelect)
    reason = _reason_field()

    INVOICE = "invoice"

    def __init__(self, *args, invoice, receipts: list[PaymentAttempt], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(self.INVOICE, f"The invoice {invoice.number} with its link")]
        choices += [
            (
                self.receipt_choice(attempt),
                f"The receipt of {attempt.merchant_reference} "
                f"({format_money(attempt.amount, attempt.currency)}, "
                f"{attempt.get_gateway_display()})",
            )
            for attempt in receipts
        ]
        self.fields["email"].choices = choices
        self.receipts = {self.receipt_choice(attempt): attempt for attempt in receipts}
        if len(choices) == 1:
            self.fields["email"].initial = self.INVOICE

    @staticmethod
    def receipt_choice(attempt: PaymentAttempt) -> str:
        return f"receipt-{attempt.pk}"

    def chosen_receipt(self) -> PaymentAttempt | None:
        """The payment whose receipt was chosen; None for the invoice email."""
        return self.receipts.get(self.cleaned_data["email"])


class InvoiceLineForm(forms.Form):
    description = forms.CharField(max_length=240)
    # No field initial: a blank extra row must stay "unchanged" to be left out.
    quantity = forms.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))
    unit_price = forms.DecimalField(
        label="Unit price (before VAT)",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),
    )


class BaseInvoiceLineFormSet(forms.BaseFormSet):
    def filled_forms(self):
        """The lines staff typed (blank extra rows are not lines)."""
        return [
            form
            for form in self.forms
            if form.has_changed() and form.is_valid() and form.cleaned_data
        ]


InvoiceLineFormSet = forms.formset_factory(
    InvoiceLineForm,
    formset=BaseInvoiceLineFormSet,
    extra=3,
    min_num=1,
    validate_min=True,
    max_num=30,
    validate_max=True,
)


class IssueForm(forms.Form):
    reason = _reason_field("Reason (e.g. the quote the customer accepted)")


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="Leave empty to refund all that is left.",
    )
    reference = forms.CharField(
        label="Refund reference",
        max_length=100,
        help_text="The mobile-money or bank reference of the money you sent back by hand.",
        error_messages={
            "required": "Type the reference of the transfer you made: this gateway cannot"
            " refund by itself."
        },
    )
    reason = _reason_field()

    def __init__(self, *args, by_api: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if by_api:
            # The gateway refunds through its API and names the refund itself.
            del self.fields["reference"]

    def cleaned_reference(self) -> str:
        return self.cleaned_data.get("reference", "")


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(widget=forms.RadioSelect)
    amount = forms.DecimalField(
        label="Refund amount",
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="Refund only. Leave empty to refund all the money the gateway reported.",
    )
    reference = forms.CharField(
        label="Refund reference",
        required=False,
        max_length=100,
        help_text="Refund only, for a refund made by hand: its mobile-money or bank reference.",
    )
    reason = _reason_field()

    Decision = ReviewCase.Decision

    def __init__(self, *args, case: ReviewCase, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = [
            (decision.value, label) for decision, label in resolve_choices(case)
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") != self.Decision.REFUND:
            # An amount or reference typed before switching decision means nothing now.
            cleaned["amount"] = None
            cleaned["reference"] = ""
        return cleaned


def case_currency(case: ReviewCase) -> str:
    """The currency the money really came in (what the gateway said, else the attempt's)."""
    said = (case.gateway_said or {}).get("currency") or case.attempt.currency
    return str(said).upper()


def resolve_choices(case: ReviewCase) -> list[tuple[ReviewCase.Decision, str]]:
    """The decisions open to staff. A chargeback already took the money back: nothing to accept
    or refund, only to dismiss once handled. Money in another currency than the invoice's cannot
    be credited to it (nor left lying), so the only way out is to send it back."""
    Decision = ReviewCase.Decision
    dismiss = (Decision.DISMISS, "Dismiss: nothing to do (e.g. a false alarm already handled)")
    refund = (Decision.REFUND, "Refund the customer")
    if case.kind == ReviewCase.Kind.REVERSAL:
        return [(Decision.DISMISS, "Dismiss: the chargeback is handled")]
    if case_currency(case) != case.invoice.currency:
        return [refund]
    return [
        (Decision.ACCEPT, "Accept the money: credit it to the invoice as what it really was"),
        refund,
        dismiss,
    ]
