"""Back office for money: payment attempts, the ledger, the gateways' notifications, refunds
and credit notes; refunding a completed payment on its own confirmation page."""

from django.contrib import admin, messages
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from wetech.admin.backoffice import AttemptAuditEntryInline
from wetech.admin.base import LargeListAdmin, ReadOnlyAdmin, ReadOnlyInline
from wetech.admin.confirm import (
    StaffAction,
    StaffActionsMixin,
    action_url,
    actor_name,
    back_to,
    confirm_page,
    object_or_404,
    permission_require,
)
from wetech.admin.filters import recent_values_filter
from wetech.admin.forms import RefundForm
from wetech.admin.search import (
    WHOLE_REFUND,
    SearchTerm,
    TypedSearchMixin,
    any_of,
    gateway_reference_q,
    invoices_q,
    payment_reference_q,
    reference_q,
)
from wetech.models import (
    CreditNote,
    GatewayNotification,
    LedgerEntry,
    PaymentAttempt,
    Refund,
)
from wetech.money import format_money
from wetech.payments.gateways.base import GatewayError, MalformedNotification
from wetech.payments.gateways.registry import UnknownGateway, gateway_named
from wetech.payments.inbox import notification_process
from wetech.payments.reconcile import attempt_recheck
from wetech.payments.refunds import RefundNotAllowed, refund_request
from wetech.payments.start import OrderCancel


def _gateway_label(name: str) -> str:
    try:
        return gateway_named(name).label
    except UnknownGateway:
        return name


def _is_push(name: str) -> bool:
    try:
        return gateway_named(name).push_to_phone
    except UnknownGateway:
        return False


def order_cancel_consequence(attempt: PaymentAttempt) -> str:
    """What voiding the invoice does to one of its open attempts, in words."""
    label = _gateway_label(attempt.gateway)
    ref = attempt.merchant_reference
    if _is_push(attempt.gateway):
        return (
            f"{ref} ({label}) is closed. A prompt already on the customer's phone cannot be"
            " withdrawn: if they approve it, the money opens a review case."
        )
    if attempt.gateway_reference:
        return f"{ref} ({label}, {attempt.status}) is closed and its order cancelled at {label}."
    return f"{ref} ({label}, {attempt.status}) is closed ({label} never took it)."


def order_cancel_messages(results: list[OrderCancel]):
    """(level, text) for staff about each order a void asked a gateway to cancel."""
    for result in results:
        attempt = result.attempt
        if _is_push(attempt.gateway):
            continue
        label = _gateway_label(attempt.gateway)
        if result.error:
            yield (
                messages.WARNING,
                f"{attempt.merchant_reference}: {label} did not cancel the order"
                f" ({result.error}). If the customer still pays it, the money opens a review"
                " case.",
            )
        else:
            yield messages.INFO, f"{attempt.merchant_reference}: order cancelled at {label}."


class PaymentAttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = (
        "merchant_reference",
        "gateway",
        "status",
        "amount",
        "currency",
        "needs_refund",
        "status_detail",
        "created_at",
    )
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = (
        "reference",
        "attempt",
        "amount",
        "currency",
        "method",
        "status",
        "requested_by",
        "external_reference",
        "requested_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("attempt")


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ("number", "amount", "currency", "reason", "issued_at", "refund")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("refund")


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("created_at", "kind", "amount", "currency", "gateway", "gateway_reference")
    readonly_fields = fields


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(StaffActionsMixin, TypedSearchMixin, LargeListAdmin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "merchant_reference",
        "invoice",
        "gateway",
        "status",
        "amount_display",
        "needs_refund",
        "check_count",
        "last_checked_at",
    )
    list_filter = (
        "status",
        "gateway",
        "needs_refund",
        "provider",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("merchant_reference", "gateway_reference", "invoice__number")
    search_help_text = (
        "A payment reference or invoice number (or its start), the gateway's reference, the"
        " payer's phone, or the client's email or name."
    )
    list_select_related = ("invoice",)
    actions = ("recheck_now",)
    inlines = (AttemptAuditEntryInline,)
    change_form_template = "admin/wetech/change_form_actions.html"

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, attempt):
        return format_money(attempt.amount, attempt.currency)

    def search_condition(self, term: SearchTerm):
        if term.kind == "reference":
            if WHOLE_REFUND.fullmatch(term.value):
                return Q(pk__in=Refund.objects.filter(reference=term.value).values("attempt_id"))
            return payment_reference_q("merchant_reference", term)
        if term.kind == "words" and term.is_token:
            return gateway_reference_q(term) & ~Q(gateway_reference="")
        if term.kind == "phone":
            # The payer's phone (a mobile-money push) or the client's, as the invoice states it.
            return any_of(PaymentAttempt, Q(payer_phone=term.value), invoices_q(term))
        return invoices_q(term)

    staff_action_views = {"refund": "refund_view"}

    def staff_actions(self, request, attempt: PaymentAttempt) -> list[StaffAction]:
        actions = []
        if attempt.status == PaymentAttempt.Status.COMPLETED:
            if request.user.has_perm("wetech.resend_email"):
                url = action_url(attempt.invoice, "resend") + f"?email=receipt-{attempt.pk}"
                actions.append(StaffAction("Send the receipt again…", url))
            if request.user.has_perm("wetech.refund_payment"):
                actions.append(StaffAction("Refund…", action_url(attempt, "refund"), danger=True))
        return actions

    def refund_view(self, request, object_id):
        permission_require(request, "wetech.refund_payment")
        attempt = object_or_404(self, request, object_id)
        invoice = attempt.invoice
        try:
            gateway = gateway_named(attempt.gateway)
        except UnknownGateway as exc:
            raise Http404(str(exc)) from exc
        label, by_api = gateway.label, gateway.supports_refund_api
        form = RefundForm(request.POST if request.method == "POST" else None, by_api=by_api)
        if request.method == "POST" and form.is_valid():
            try:
                refund = refund_request(
                    attempt=attempt,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=actor_name(request),
                    user=request.user,
                    reference=form.cleaned_reference(),
                )
            except RefundNotAllowed as exc:
                form.add_error(None, f"Not refunded: {exc}")
            else:
                self.message_user(
                    request,
                    f"Refund {refund.reference} of {format_money(refund.amount, refund.currency)}"
                    f" for {attempt.merchant_reference}: {refund.get_status_display().lower()}.",
                    messages.SUCCESS,
                )
                return back_to(attempt)
        refunds = list(attempt.refunds.order_by("requested_at", "pk"))
        return confirm_page(
            self,
            request,
            original=attempt,
            title=f"Refund {attempt.merchant_reference}",
            form=form,
            facts=[
                ("Invoice", f"{invoice.number} ({invoice.get_status_display().lower()})"),
                ("Customer", f"{invoice.client_name} ({invoice.client_email})"),
                ("Payment", f"{format_money(attempt.amount, attempt.currency)} with {label}"),
                ("Paid with", attempt.payment_method or "-"),
                ("Confirmation code", attempt.confirmation_code or "-"),
                (
                    "Paid on",
                    f"{timezone.localtime(attempt.completed_at):%d %b %Y %H:%M}"
                    if attempt.completed_at
                    else "-",
                ),
                (
                    "Refunds so far",
                    "; ".join(
                        f"{r.reference}: {format_money(r.amount, r.currency)} "
                        f"{r.get_status_display().lower()}"
                        for r in refunds
                    )
                    or "none",
                ),
            ],
            consequences=[
                (
                    f"The refund request goes to {label} now; the refund completes when {label}"
                    " reports the payment reversed: then the ledger records it, a credit note is"
                    " issued and the customer is emailed."
                    if by_api
                    else f"{label} cannot refund by itself: send the money back by hand first"
                    " (mobile money or bank), then record it here with the transfer's reference."
                    " It is recorded as done: the ledger, a credit note and the customer's email"
                    " follow at once."
                ),
                "The invoice's status follows from its ledger (paid, or refunded when nothing"
                " is left).",
                "Recorded in the audit trail with your name and the reason.",
            ],
            refusal=(
                ""
                if attempt.status == PaymentAttempt.Status.COMPLETED
                else f"Only a completed payment can be refunded; this one is "
                f"{attempt.get_status_display().lower()}."
            ),
            submit_label="Refund the customer",
            danger=True,
        )

    @admin.action(description="Re-check selected attempts with the gateway now")
    def recheck_now(self, request, queryset):
        for attempt in queryset.order_by("pk"):
            try:
                settled = attempt_recheck(attempt=attempt, bypass_window=True)
            except GatewayError as exc:
                self.message_user(
                    request,
                    f"{attempt.merchant_reference}: {type(exc).__name__}: {exc.message}",
                    messages.ERROR,
                )
                continue
            if settled is None:
                text = "this gateway cannot be asked (no reference or no status query)"
                level = messages.WARNING
            else:
                text = f"{'now' if settled.changed else 'still'} {settled.attempt.status}"
                level = messages.WARNING if settled.needs_person else messages.SUCCESS
            self.message_user(request, f"{attempt.merchant_reference}: {text}", level)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(TypedSearchMixin, LargeListAdmin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "invoice",
        "kind",
        "amount_display",
        "gateway",
        "gateway_reference",
        "attempt",
    )
    list_filter = (
        "kind",
        "gateway",
        recent_values_filter("currency", "currency", newest_first="-created_at"),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("gateway_reference", "invoice__number", "attempt__merchant_reference")
    search_help_text = (
        "An invoice number, payment or refund reference (or its start), the gateway's reference,"
        " or the client's email, phone or name."
    )
    list_select_related = ("invoice", "attempt")

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, entry):
        return format_money(entry.signed_amount, entry.currency)

    def search_condition(self, term: SearchTerm):
        if term.kind == "reference" and WHOLE_REFUND.fullmatch(term.value):
            # A refund's entry is keyed by the refund's reference.
            return gateway_reference_q(SearchTerm("words", term.value, term.value))
        if term.kind == "words" and term.is_token:
            return gateway_reference_q(term)
        return invoices_q(term)


@admin.register(GatewayNotification)
class GatewayNotificationAdmin(TypedSearchMixin, LargeListAdmin, ReadOnlyAdmin):
    list_display = ("received_at", "gateway", "kind", "method", "result", "attempt", "remote_ip")
    list_filter = ("gateway", "kind", "result", ("received_at", admin.DateFieldListFilter))
    search_fields = ("query_string", "body", "attempt__merchant_reference")
    search_help_text = (
        "A payment reference or invoice number (or its start), or the gateway's reference of the"
        " payment. Bodies are not searched: a notification that matched no payment is found by"
        " its result and date."
    )
    list_select_related = ("attempt",)

    def search_condition(self, term: SearchTerm):
        if term.kind == "reference":
            attempts = PaymentAttempt.objects.filter(
                payment_reference_q("merchant_reference", term)
            )
        elif term.kind == "words" and term.is_token:
            attempts = PaymentAttempt.objects.filter(gateway_reference_q(term))
        else:
            return None
        return Q(attempt_id__in=attempts.values("pk"))

    actions = ("reprocess",)

    @admin.action(description="Re-process selected notifications")
    def reprocess(self, request, queryset):
        for notification in queryset.order_by("pk"):
            try:
                # The same path as when it arrived, except that it always asks the gateway now.
                outcome = notification_process(notification=notification, bypass_window=True)
            except MalformedNotification as exc:
                self.message_user(
                    request, f"#{notification.pk}: unreadable ({exc})", messages.ERROR
                )
                continue
            except UnknownGateway as exc:
                self.message_user(request, f"#{notification.pk}: {exc}", messages.ERROR)
                continue
            level = messages.SUCCESS if outcome.processed else messages.ERROR
            self.message_user(request, f"#{notification.pk}: {outcome.result}", level)


@admin.register(Refund)
class RefundAdmin(TypedSearchMixin, ReadOnlyAdmin):
    list_display = (
        "requested_at",
        "reference",
        "invoice",
        "attempt",
        "amount_display",
        "method",
        "status",
        "requested_by",
        "external_reference",
    )
    list_filter = ("status", "method", ("requested_at", admin.DateFieldListFilter))
    search_fields = (
        "=reference",
        "=external_reference",
        "=invoice__number",
        "=attempt__merchant_reference",
    )
    search_help_text = (
        "A refund's reference, the reference of a refund made by hand, an invoice number or"
        " payment reference (or its start), or the client's email, phone or name."
    )
    list_select_related = ("invoice", "attempt")

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, refund):
        return format_money(refund.amount, refund.currency)

    def search_condition(self, term: SearchTerm):
        if term.kind == "reference" and WHOLE_REFUND.fullmatch(term.value):
            return Q(reference=term.value)
        if term.kind == "words" and term.is_token:
            return Q(external_reference=term.typed)
        return invoices_q(term)


@admin.register(CreditNote)
class CreditNoteAdmin(TypedSearchMixin, ReadOnlyAdmin):
    list_display = ("number", "issued_at", "invoice", "amount_display", "refund")
    search_fields = ("=number", "=invoice__number")
    search_help_text = (
        "A credit-note number (CN-2025-00012, or its start), an invoice number, or the client's"
        " email, phone or name."
    )
    list_select_related = ("invoice", "refund")

    def search_condition(self, term: SearchTerm):
        if term.kind == "reference" and term.value.startswith("CN-"):
            return reference_q("number", term)
        return invoices_q(term)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, note):
        return format_money(note.amount, note.currency)
