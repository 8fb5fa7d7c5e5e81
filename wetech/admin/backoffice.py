"""Back office for what needs a person: the review queue (a payment that did not match, was paid
twice, landed on a void invoice or was charged back) and the audit trail of staff actions."""

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

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
from wetech.admin.forms import ResolveForm, case_currency, resolve_choices
from wetech.admin.search import SearchTerm, TypedSearchMixin, invoices_q
from wetech.models import AuditEntry, GatewayNotification, ReviewCase
from wetech.money import format_money
from wetech.payments.refunds import RefundNotAllowed
from wetech.payments.review import review_case_resolve

# The keys of `gateway_said` and `expected` shown first, in this order; others follow sorted.
_CASE_KEYS = (
    "status",
    "amount",
    "currency",
    "merchant_reference",
    "gateway_reference",
    "confirmation_code",
    "payment_method",
    "detail",
)
# The queue's column is narrow; the change page gives the kind in full.
_KIND_SHORT = {
    ReviewCase.Kind.MISMATCH: "Mismatch",
    ReviewCase.Kind.PAID_TWICE: "Paid twice",
    ReviewCase.Kind.VOID_INVOICE: "On a void invoice",
    ReviewCase.Kind.REVERSAL: "Chargeback",
}
NOTIFICATIONS_SHOWN = 50
AUDIT_SHOWN = 50


def _money_said(values: dict, fallback_currency: str = "") -> str:
    amount = (values or {}).get("amount")
    currency = (values or {}).get("currency") or fallback_currency
    if amount in (None, ""):
        return "-"
    try:
        return format_money(amount, str(currency).upper())
    except (ArithmeticError, TypeError, ValueError):
        return f"{amount} {currency}".strip()


def _table(caption: str, head: tuple[str, ...], rows, *, empty: str):
    """A small read-only table for a change page, scrolling sideways on a phone."""
    if not rows:
        return empty
    return format_html(
        '<div class="wt-table-scroll"><table class="wt-table"><caption>{}</caption>'
        "<thead><tr>{}</tr></thead><tbody>{}</tbody></table></div>",
        caption,
        format_html_join("", '<th scope="col">{}</th>', ((h,) for h in head)),
        format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
        ),
    )


class AttemptAuditEntryInline(ReadOnlyInline):
    model = AuditEntry
    fields = ("created_at", "actor", "action", "reason")
    readonly_fields = fields
    verbose_name_plural = "Audit trail"


class AuditEntryInline(AttemptAuditEntryInline):
    """The invoice's audit trail, on its admin page."""

    fields = ("created_at", "actor", "action", "attempt", "reason")
    readonly_fields = fields

    def get_queryset(self, request):
        # One query for the trail, however long it is.
        return super().get_queryset(request).select_related("attempt")


@admin.register(AuditEntry)
class AuditEntryAdmin(TypedSearchMixin, LargeListAdmin, ReadOnlyAdmin):
    """Append-only: nobody adds, changes or deletes an entry here (the model refuses it too)."""

    list_display = ("created_at", "actor", "action", "invoice", "attempt", "reason_short")
    list_filter = (
        "action",
        recent_values_filter("actor", "actor", newest_first="-created_at"),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("=actor", "=invoice__number", "=attempt__merchant_reference")
    search_help_text = (
        "Who (a username, exactly), an invoice number or payment reference (or its start), or the"
        " client's email or phone."
    )
    list_select_related = ("invoice", "attempt")
    fields = (
        "created_at",
        "actor",
        "actor_user",
        "action",
        "invoice",
        "attempt",
        "reason",
        "data_display",
    )
    readonly_fields = fields

    def search_condition(self, term: SearchTerm):
        if term.kind == "words":
            return Q(actor=term.typed)
        # An entry about a payment names its invoice too (`audit_record`).
        return invoices_q(term)

    @admin.display(description="Reason")
    def reason_short(self, entry):
        return entry.reason if len(entry.reason) <= 80 else entry.reason[:79] + "…"

    @admin.display(description="Details")
    def data_display(self, entry):
        return _table(
            "Details",
            ("Field", "Value"),
            [(key, value) for key, value in sorted((entry.data or {}).items())],
            empty="-",
        )


@admin.register(ReviewCase)
class ReviewCaseAdmin(StaffActionsMixin, TypedSearchMixin, ReadOnlyAdmin):
    """The review queue: open cases first, oldest worries visible by their age."""

    list_display = (
        "case_display",
        "invoice",
        "payment",
        "expected_display",
        "gateway_said_display",
        "age",
        "resolve_link",
    )
    list_filter = ("status", "kind", "decision", "attempt__gateway")
    search_fields = ("=invoice__number", "=attempt__merchant_reference")
    search_help_text = (
        "An invoice number or payment reference (or its start), or the client's email, phone or"
        " name."
    )
    list_select_related = ("invoice", "attempt")
    # "open" sorts before "resolved": the queue shows what still needs a person first.
    ordering = ("status", "-opened_at", "-pk")
    change_form_template = "admin/wetech/change_form_actions.html"
    fieldsets = (
        (None, {"fields": ("summary", "kind", "status", "invoice", "attempt", "opened_at")}),
        ("What the gateway said and what we expected", {"fields": ("comparison",)}),
        ("The payment's notifications", {"fields": ("notifications",)}),
        (
            "Decision",
            {"fields": ("decision", "resolution_reason", "resolved_by", "resolved_at")},
        ),
        ("Audit trail", {"fields": ("audit_trail",)}),
    )
    readonly_fields = (
        "summary",
        "kind",
        "status",
        "invoice",
        "attempt",
        "opened_at",
        "comparison",
        "notifications",
        "decision",
        "resolution_reason",
        "resolved_by",
        "resolved_at",
        "audit_trail",
    )

    class Media:
        css = {"all": ("css/backoffice.css",)}

    def search_condition(self, term: SearchTerm):
        return invoices_q(term)

    @admin.display(description="Case", ordering="status")
    def case_display(self, case):
        return format_html(
            '{}<br><span class="wt-quiet">{}</span>',
            _KIND_SHORT.get(case.kind, case.get_kind_display()),
            case.get_status_display(),
        )

    @admin.display(description="Payment", ordering="attempt__merchant_reference")
    def payment(self, case):
        return format_html(
            '{}<br><span class="wt-quiet">{}</span>',
            case.attempt.merchant_reference,
            case.attempt.get_gateway_display(),
        )

    @admin.display(description="Expected")
    def expected_display(self, case):
        return _money_said(case.expected, case.invoice.currency)

    @admin.display(description="Gateway said")
    def gateway_said_display(self, case):
        return _money_said(case.gateway_said)

    @admin.display(description="Age", ordering="opened_at")
    def age(self, case):
        if case.is_open:
            return timesince(case.opened_at)
        return f"resolved after {timesince(case.opened_at, case.resolved_at or timezone.now())}"

    @admin.display(description="")
    def resolve_link(self, case):
        if not case.is_open:
            return case.get_decision_display()
        return format_html(
            '<a class="button wt-row-action" href="{}">Resolve…</a>',
            action_url(case, "resolve"),
        )

    @admin.display(description="Comparison")
    def comparison(self, case):
        said, expected = case.gateway_said or {}, case.expected or {}
        keys = [key for key in _CASE_KEYS if key in said or key in expected]
        keys += sorted((said.keys() | expected.keys()) - set(_CASE_KEYS))
        rows = []
        for key in keys:
            ours, theirs = expected.get(key, "-"), said.get(key, "-")
            differs = key in said and key in expected and str(ours) != str(theirs)
            rows.append(
                (
                    key.replace("_", " "),
                    ours,
                    format_html('<strong class="wt-diff">{}</strong>', theirs)
                    if differs
                    else theirs,
                )
            )
        return _table(
            "What we expected and what the gateway said",
            ("", "We expected", "The gateway said"),
            rows,
            empty="Nothing was recorded.",
        )

    @admin.display(description="Notifications")
    def notifications(self, case):
        rows = [
            (
                format_html(
                    '<a href="{}">#{}</a>',
                    reverse("admin:wetech_gatewaynotification_change", args=[n.pk]),
                    n.pk,
                ),
                f"{timezone.localtime(n.received_at):%d %b %Y %H:%M:%S}",
                n.get_kind_display(),
                n.method,
                n.get_result_display(),
                n.error or "-",
            )
            for n in GatewayNotification.objects.filter(attempt_id=case.attempt_id).order_by(
                "received_at", "pk"
            )[:NOTIFICATIONS_SHOWN]
        ]
        return _table(
            "What the gateway sent about this payment, oldest first",
            ("", "Received", "Kind", "Method", "Result", "Error"),
            rows,
            empty="No notification: this payment was learnt by asking the gateway.",
        )

    @admin.display(description="Entries")
    def audit_trail(self, case):
        entries = AuditEntry.objects.filter(
            Q(attempt_id=case.attempt_id) | Q(invoice_id=case.invoice_id)
        ).order_by("created_at", "pk")[:AUDIT_SHOWN]
        rows = [
            (
                f"{timezone.localtime(e.created_at):%d %b %Y %H:%M}",
                e.actor,
                e.get_action_display(),
                e.reason or "-",
            )
            for e in entries
        ]
        return _table(
            "Who did what about this invoice and payment, oldest first",
            ("When", "Who", "What", "Why"),
            rows,
            empty="Nothing yet.",
        )

    staff_action_views = {"resolve": "resolve_view"}

    def staff_actions(self, request, case: ReviewCase) -> list[StaffAction]:
        if case.is_open and request.user.has_perm("wetech.resolve_reviewcase"):
            return [StaffAction("Resolve…", action_url(case, "resolve"))]
        return []

    def resolve_view(self, request, object_id):
        permission_require(request, "wetech.resolve_reviewcase")
        case = object_or_404(self, request, object_id)
        form = ResolveForm(request.POST if request.method == "POST" else None, case=case)
        if request.method == "POST" and case.is_open and form.is_valid():
            data = form.cleaned_data
            try:
                review_case_resolve(
                    case=case,
                    decision=data["decision"],
                    reason=data["reason"],
                    actor=actor_name(request),
                    user=request.user,
                    amount=data["amount"],
                    reference=data["reference"],
                )
            except (RefundNotAllowed, ValueError) as exc:
                case.refresh_from_db()
                if not case.is_open:
                    # The decision was saved, then the gateway refused the refund: the refund
                    # is kept as rejected and the payment flagged to refund again.
                    self.message_user(
                        request,
                        f"Case resolved ({_resolution(case)}), but the refund did not go"
                        f" through: {exc}. The payment is flagged to refund again.",
                        messages.WARNING,
                    )
                    return back_to(case)
                form.add_error(None, f"Not resolved: {exc}")
            else:
                case.refresh_from_db()
                self.message_user(
                    request,
                    f"Case resolved: {case.get_decision_display().lower() or data['decision']}.",
                    messages.SUCCESS,
                )
                return back_to(case)
        return confirm_page(
            self,
            request,
            original=case,
            title="Resolve the review case",
            form=form,
            facts=_case_facts(case),
            consequences=_resolve_consequences(case),
            refusal="" if case.is_open else f"This case is already resolved ({_resolution(case)}).",
            submit_label="Resolve the case",
        )


def _resolution(case: ReviewCase) -> str:
    return f"{case.get_decision_display().lower()} by {case.resolved_by or 'someone'}"


def _case_facts(case: ReviewCase) -> list[tuple[str, str]]:
    invoice, attempt = case.invoice, case.attempt
    return [
        ("Case", f"{case.get_kind_display()}: {case.summary}"),
        (
            "Invoice",
            f"{invoice.number} for {format_money(invoice.total, invoice.currency)}"
            f" ({invoice.get_status_display().lower()})",
        ),
        ("Payment", f"{attempt.merchant_reference} ({attempt.get_gateway_display()})"),
        ("We expected", _money_said(case.expected, invoice.currency)),
        ("The gateway said", _money_said(case.gateway_said)),
        ("Open for", timesince(case.opened_at)),
    ]


def _resolve_consequences(case: ReviewCase) -> list[str]:
    Decision = ReviewCase.Decision
    offered = {decision for decision, _ in resolve_choices(case)}
    if case.kind == ReviewCase.Kind.REVERSAL:
        return [
            "The customer's bank already took the money back: there is nothing to accept or"
            " refund. Dismiss the case once the chargeback is handled (disputed or accepted).",
            "The invoice's status already follows from its ledger.",
            "Recorded in the audit trail with your name and the reason.",
        ]
    lines = []
    if Decision.ACCEPT in offered:
        lines.append(
            "Accept: the money is credited to the invoice as what it really was"
            f" ({_money_said(case.gateway_said)}). A short payment leaves a balance due, and the"
            " invoice's pay buttons then ask for the balance."
        )
    else:
        lines.append(
            f"The money came in {case_currency(case)}, not the invoice's {case.invoice.currency}:"
            " it cannot be credited to the invoice, so the only way out is to refund it."
        )
    lines.append(
        "Refund: the money goes back to the customer, through the gateway's refund API or, for"
        " a gateway without one, recorded as sent back by hand with its reference."
    )
    if Decision.DISMISS in offered:
        lines.append("Dismiss: nothing moves; the case closes with your reason.")
    lines += [
        "The invoice's status then follows from its ledger.",
        "Recorded in the audit trail with your name and the reason.",
    ]
    return lines
