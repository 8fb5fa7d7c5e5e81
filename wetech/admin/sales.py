"""Back office for what sells: clients, leads, services and invoices, and the staff actions on
them (issue an invoice for a lead priced on request, void, send an email again)."""

import csv

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from modeltranslation.admin import TranslationAdmin

from wetech.admin.backoffice import AuditEntryInline
from wetech.admin.base import LargeListAdmin
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
from wetech.admin.forms import InvoiceLineFormSet, IssueForm, ReasonForm, ResendForm
from wetech.admin.payments import (
    CreditNoteInline,
    LedgerEntryInline,
    PaymentAttemptInline,
    RefundInline,
    order_cancel_consequence,
    order_cancel_messages,
)
from wetech.admin.search import (
    SearchTerm,
    TypedSearchMixin,
    invoice_number_q,
    reference_q,
    words_q,
)
from wetech.models import Client, CreditNote, Invoice, InvoiceLine, Lead, Service
from wetech.money import DEFAULT_CURRENCY, format_money, quantize
from wetech.payments.emails import ReceiptNotAllowed, receipt_email_resend
from wetech.payments.start import attempt_orders_cancel
from wetech.sales.invoicing import (
    InvoiceActionNotAllowed,
    InvoiceLineInput,
    invoice_email_resend,
    invoice_issue,
    invoice_issue_for_lead,
    invoice_totals_compute,
    invoice_void,
)
from wetech.sales.selectors import (
    invoice_attempts_open,
    invoice_net_paid,
    invoice_payments_completed,
)

CHANGE_FORM_WITH_ACTIONS = "admin/wetech/change_form_actions.html"

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A CSV cell that a spreadsheet shows as text, never evaluates (OWASP "CSV injection")."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


@admin.register(Client)
class ClientAdmin(TypedSearchMixin, LargeListAdmin):
    list_display = ("name", "email", "phone", "company", "created_at")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("name", "email", "phone", "company")
    search_help_text = "An email, a phone number, or words of the name or company."
    readonly_fields = ("created_at",)

    def search_condition(self, term: SearchTerm):
        if term.kind == "email":
            return Q(email=term.value)
        if term.kind == "phone":
            return Q(phone=term.value)
        return words_q(term, "name", "company")


@admin.register(Lead)
class LeadAdmin(StaffActionsMixin, TypedSearchMixin, LargeListAdmin):
    list_display = (
        "created_at",
        "name",
        "company",
        "service",
        "status",
        "source_page",
        "utm_source",
        "marketing_consent",
        "invoice_link",
    )
    list_filter = (
        "status",
        "service",
        recent_values_filter("source_page", "source page", newest_first="-created_at"),
        recent_values_filter("utm_source", "UTM source", newest_first="-created_at"),
        "marketing_consent",
        "language",
        ("created_at", admin.DateFieldListFilter),
    )
    # What they typed this time; the message is read on the lead's page, not searched.
    search_fields = ("name", "email", "phone", "company")
    search_help_text = "An email, a phone number, or words of the name or company."
    list_select_related = ("service", "invoice")
    raw_id_fields = ("client",)
    actions = ("mark_contacted", "export_csv")
    readonly_fields = (
        "created_at",
        "marketing_consent",
        "consent_at",
        "consent_ip",
        "landing_page",
        "referrer",
        "source_page",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "invoice_link",
    )
    fieldsets = (
        (None, {"fields": ("status", "client", "service", "invoice_link", "created_at")}),
        ("As submitted", {"fields": ("name", "email", "phone", "company", "message")}),
        ("Consent", {"fields": ("marketing_consent", "consent_at", "consent_ip")}),
        (
            "Where it came from",
            {
                "fields": (
                    "source_page",
                    "landing_page",
                    "referrer",
                    "utm_source",
                    "utm_medium",
                    "utm_campaign",
                    "utm_term",
                    "utm_content",
                )
            },
        ),
    )

    change_form_template = CHANGE_FORM_WITH_ACTIONS

    def search_condition(self, term: SearchTerm):
        if term.kind == "email":
            return Q(email=term.value)
        if term.kind == "phone":
            return Q(phone=term.value)
        if term.kind == "reference":
            invoices = Invoice.objects.filter(invoice_number_q("number", term))
            return Q(pk__in=invoices.values("lead_id"))
        return words_q(term, "name", "company")

    staff_action_views = {"issue-invoice": "issue_invoice_view"}

    def staff_actions(self, request, lead: Lead) -> list[StaffAction]:
        if request.user.has_perm("wetech.issue_invoice") and _issue_refusal(lead) == "":
            return [StaffAction("Issue an invoice…", action_url(lead, "issue_invoice"))]
        return []

    def issue_invoice_view(self, request, object_id):
        permission_require(request, "wetech.issue_invoice")
        lead = object_or_404(self, request, object_id)
        service = lead.service
        currency = service.currency if service else DEFAULT_CURRENCY
        posted = request.method == "POST"
        form = IssueForm(request.POST if posted else None)
        initial = [{"description": service.name, "quantity": 1}] if service else []
        formset = InvoiceLineFormSet(
            request.POST if posted else None, prefix="lines", initial=initial
        )
        preview = None
        if posted and formset.is_valid():
            lines = [
                InvoiceLineInput(
                    description=line.cleaned_data["description"],
                    quantity=line.cleaned_data["quantity"],
                    unit_price=line.cleaned_data["unit_price"],
                )
                for line in formset.filled_forms()
            ]
            preview = _issue_preview(lines, currency=currency)
            if "_confirm" in request.POST and form.is_valid():
                try:
                    invoice = invoice_issue_for_lead(
                        lead=lead,
                        lines=lines,
                        reason=form.cleaned_data["reason"],
                        actor=actor_name(request),
                        user=request.user,
                    )
                except InvoiceActionNotAllowed as exc:
                    form.add_error(None, f"Not issued: {exc}.")
                else:
                    self.message_user(
                        request,
                        f"Invoice {invoice.number} ({format_money(invoice.total, currency)}) "
                        f"issued and sent to {invoice.client_email}.",
                        messages.SUCCESS,
                    )
                    return back_to(invoice)
            elif "_preview" in request.POST:
                # Only the totals were asked for: no "reason is required" yet.
                form = IssueForm(initial={"reason": request.POST.get("reason", "")})
        return confirm_page(
            self,
            request,
            original=lead,
            title="Issue an invoice",
            form=form,
            formset=formset,
            preview=preview,
            currency=currency,
            template="admin/wetech/issue_invoice.html",
            facts=[
                ("Lead", f"{lead.name} ({lead.email}, {lead.phone})"),
                ("Company", lead.company or "-"),
                ("Buyer's TIN", lead.tin or "-"),
                ("Service", f"{service.name} (priced on request)" if service else "-"),
                ("What they wrote", lead.message or "-"),
            ],
            consequences=[
                "The invoice takes the next number of the year (WT-<year>-<number>): it can"
                " never change afterwards.",
                f"VAT at {_tax_percent()} is added to the lines, as on every invoice.",
                f"{lead.email} gets the invoice email with the link to view and pay it.",
                "Recorded in the audit trail with your name and the reason.",
            ],
            refusal=_issue_refusal(lead),
            submit_label="Issue and send the invoice",
        )

    @admin.display(description="Invoice")
    def invoice_link(self, lead):
        invoice = getattr(lead, "invoice", None)
        if invoice is None or not invoice.number:
            return "-"
        return format_html('<a href="{}">{}</a>', invoice.get_absolute_url(), invoice.number)

    @admin.action(description="Mark selected new leads as contacted")
    def mark_contacted(self, request, queryset):
        count = queryset.filter(status=Lead.Status.NEW).update(status=Lead.Status.CONTACTED)
        self.message_user(request, f"{count} lead(s) marked as contacted.", messages.SUCCESS)

    @admin.action(description="Export selected leads as CSV")
    def export_csv(self, request, queryset):
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="wetech-leads-{stamp}.csv"'
        # A byte-order mark so Excel opens Swahili and emoji as UTF-8.
        response.write("\ufeff")
        columns = (
            "created_at",
            "status",
            "name",
            "email",
            "phone",
            "company",
            "service",
            "message",
            "marketing_consent",
            "consent_at",
            "source_page",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
            "referrer",
        )
        writer = csv.writer(response)
        writer.writerow(columns)
        for lead in queryset.select_related("service").order_by("created_at"):
            row = [getattr(lead, column) for column in columns]
            row[columns.index("service")] = lead.service.name if lead.service_id else ""
            writer.writerow([csv_safe(value) for value in row])
        return response


@admin.register(Service)
class ServiceAdmin(TranslationAdmin):
    """Each translated field is edited in English and in Kiswahili side by side (name [en],
    name [sw], ...); an empty Kiswahili field shows the English on the Kiswahili pages."""

    list_display = ("name", "price_display", "price_note", "active", "order")
    list_editable = ("active", "order")
    list_filter = ("active",)
    search_fields = ("name", "slug", "summary")
    prepopulated_fields = {"slug": ("name",)}

    @admin.display(description="Price (before VAT)", ordering="price")
    def price_display(self, service):
        return format_money(service.price, service.currency) if service.is_priced else "On request"


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ("position", "description", "quantity", "unit_price", "amount_display")
    readonly_fields = ("amount_display",)

    def get_queryset(self, request):
        # The amount shows the invoice's currency: read with the lines, not once per line.
        return super().get_queryset(request).select_related("invoice")

    @admin.display(description="Amount")
    def amount_display(self, line):
        if line.amount is None:
            return "-"
        return format_money(line.amount, line.invoice.currency)

    def _editable(self, invoice):
        return invoice is None or invoice.status == Invoice.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Invoice)
class InvoiceAdmin(StaffActionsMixin, TypedSearchMixin, LargeListAdmin):
    list_display = (
        "number_or_draft",
        "client_name",
        "total_display",
        "status",
        "issued_at",
        "due_date",
        "paid_at",
        "public_link",
    )
    list_filter = (
        "status",
        recent_values_filter("currency", "currency", newest_first="-created_at"),
        "language",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("number", "client_name", "client_email", "client_phone", "client_company")
    search_help_text = (
        "An invoice number (WT-2025-01234, or its start), the client's email or phone number,"
        " or words of the client's name or company."
    )
    raw_id_fields = ("client", "lead")
    inlines = (
        InvoiceLineInline,
        PaymentAttemptInline,
        LedgerEntryInline,
        RefundInline,
        CreditNoteInline,
        AuditEntryInline,
    )
    actions = ("issue_drafts",)
    change_form_template = CHANGE_FORM_WITH_ACTIONS
    _money_readonly = (
        "subtotal_display",
        "tax_display",
        "total_display",
        "public_link",
        "created_at",
        "updated_at",
    )

    def search_condition(self, term: SearchTerm):
        if term.kind == "reference":
            if term.value.startswith("CN-"):
                notes = CreditNote.objects.filter(reference_q("number", term))
                return Q(pk__in=notes.values("invoice_id"))
            return invoice_number_q("number", term)
        if term.kind == "email":
            return Q(client_email=term.value)
        if term.kind == "phone":
            return Q(client_phone=term.value)
        return words_q(term, "client_name", "client_company")

    def get_inlines(self, request, obj):
        # Drafts cannot be paid; leaving the payment inlines out keeps their forms unchanged.
        if obj is None or obj.status == Invoice.Status.DRAFT:
            return (InvoiceLineInline,)
        return self.inlines

    staff_action_views = {"void": "void_view", "resend": "resend_view"}

    def staff_actions(self, request, invoice: Invoice) -> list[StaffAction]:
        user = request.user
        actions = []
        if user.has_perm("wetech.resend_email") and invoice.status not in (
            Invoice.Status.DRAFT,
            Invoice.Status.VOID,
        ):
            actions.append(StaffAction("Send an email again…", action_url(invoice, "resend")))
        if user.has_perm("wetech.refund_payment"):
            actions += [
                StaffAction(f"Refund {attempt.merchant_reference}…", action_url(attempt, "refund"))
                for attempt in invoice_payments_completed(invoice)
            ]
        if user.has_perm("wetech.void_invoice") and invoice.status == Invoice.Status.ISSUED:
            actions.append(StaffAction("Void…", action_url(invoice, "void"), danger=True))
        return actions

    def void_view(self, request, object_id):
        permission_require(request, "wetech.void_invoice")
        invoice = object_or_404(self, request, object_id)
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                voided = invoice_void(
                    invoice=invoice,
                    reason=form.cleaned_data["reason"],
                    actor=actor_name(request),
                    user=request.user,
                )
            except InvoiceActionNotAllowed as exc:
                form.add_error(None, f"Not voided: {exc}.")
            else:
                self.message_user(request, f"Invoice {invoice.number} is void.", messages.SUCCESS)
                # After the commit, outside any transaction: the gateways are asked now.
                cancelled = attempt_orders_cancel(attempts=voided.closed_attempts)
                for level, text in order_cancel_messages(cancelled):
                    self.message_user(request, text, level)
                return back_to(invoice)
        held = invoice_net_paid(invoice) if invoice.status == Invoice.Status.ISSUED else 0
        if invoice.status != Invoice.Status.ISSUED:
            refusal = (
                f"Only an unpaid issued invoice can be voided; this one is "
                f"{invoice.get_status_display().lower()}."
            )
        elif held > 0:
            refusal = (
                f"This invoice holds {format_money(held, invoice.currency)}: refund that payment"
                " before voiding it."
            )
        else:
            refusal = ""
        return confirm_page(
            self,
            request,
            original=invoice,
            title=f"Void invoice {invoice.number or '(draft)'}",
            form=form,
            facts=_invoice_facts(invoice),
            consequences=[
                f"Invoice {invoice.number} becomes void: its page says so and nobody can pay it.",
                *(order_cancel_consequence(attempt) for attempt in invoice_attempts_open(invoice)),
                "The customer is not emailed; tell them yourself if they should know.",
                "Recorded in the audit trail with your name and the reason.",
            ],
            refusal=refusal,
            submit_label="Void the invoice",
            danger=True,
        )

    def resend_view(self, request, object_id):
        permission_require(request, "wetech.resend_email")
        invoice = object_or_404(self, request, object_id)
        receipts = invoice_payments_completed(invoice)
        form = ResendForm(
            request.POST if request.method == "POST" else None,
            invoice=invoice,
            receipts=receipts,
            initial={"email": request.GET.get("email", "")},
        )
        if request.method == "POST" and form.is_valid():
            attempt = form.chosen_receipt()
            common = {
                "reason": form.cleaned_data["reason"],
                "actor": actor_name(request),
                "user": request.user,
            }
            try:
                if attempt is None:
                    invoice_email_resend(invoice=invoice, **common)
                    what = f"The invoice email for {invoice.number}"
                else:
                    receipt_email_resend(attempt=attempt, **common)
                    what = f"The receipt of {attempt.merchant_reference}"
            except (InvoiceActionNotAllowed, ReceiptNotAllowed) as exc:
                form.add_error(None, f"Not sent: {exc}.")
            else:
                self.message_user(
                    request, f"{what} is on its way to {invoice.client_email}.", messages.SUCCESS
                )
                return back_to(invoice)
        return confirm_page(
            self,
            request,
            original=invoice,
            title=f"Send an email for {invoice.number or '(draft)'} again",
            form=form,
            facts=_invoice_facts(invoice),
            consequences=[
                f"The chosen email goes to {invoice.client_email} again, as it went the first"
                " time (the invoice with its link, or the payment's receipt).",
                "Recorded in the audit trail with your name and the reason.",
            ],
            refusal=(
                ""
                if invoice.status not in (Invoice.Status.DRAFT, Invoice.Status.VOID)
                else f"A {invoice.get_status_display().lower()} invoice has no email to send."
            ),
            submit_label="Send it",
        )

    @admin.display(description="Number", ordering="number")
    def number_or_draft(self, invoice):
        return invoice.number or "(draft)"

    @admin.display(description="Subtotal")
    def subtotal_display(self, invoice):
        return format_money(invoice.subtotal, invoice.currency)

    @admin.display(description="VAT")
    def tax_display(self, invoice):
        return f"{format_money(invoice.tax, invoice.currency)} ({invoice.tax_label})"

    @admin.display(description="Total", ordering="total")
    def total_display(self, invoice):
        return format_money(invoice.total, invoice.currency)

    @admin.display(description="Public page")
    def public_link(self, invoice):
        if invoice.pk is None or invoice.status == Invoice.Status.DRAFT:
            return "-"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Open invoice page</a>',
            invoice.get_absolute_url(),
        )

    def get_fields(self, request, obj=None):
        editable = (
            "client",
            "lead",
            "client_name",
            "client_email",
            "client_phone",
            "client_company",
            "language",
            "currency",
            "tax_rate",
        )
        state = ("number", "status", "issued_at", "due_date", "paid_at")
        return (*editable, *state, *self._money_readonly)

    def get_readonly_fields(self, request, obj=None):
        # Numbers, status and dates come from the issuing and payment services, never by hand.
        state = ("number", "status", "issued_at", "due_date", "paid_at")
        if obj is not None and obj.status != Invoice.Status.DRAFT:
            return tuple(self.get_fields(request, obj))
        return (*state, *self._money_readonly)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status != Invoice.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk delete skips the per-invoice guard; drafts can still be deleted one by one.
        actions.pop("delete_selected", None)
        return actions

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        invoice = form.instance
        if invoice.status == Invoice.Status.DRAFT:
            invoice_totals_compute(invoice=invoice)
            invoice.save(update_fields=["subtotal", "tax", "total", "updated_at"])

    @admin.action(description="Issue selected drafts (assigns numbers)")
    def issue_drafts(self, request, queryset):
        issued = []
        for invoice in queryset.filter(status=Invoice.Status.DRAFT).order_by("created_at"):
            if not invoice.lines.exists():
                self.message_user(
                    request, f"A draft for {invoice.client_name} has no lines.", messages.WARNING
                )
                continue
            issued.append(invoice_issue(invoice=invoice).number)
        if issued:
            self.message_user(request, f"Issued {', '.join(issued)}.", messages.SUCCESS)


def _tax_percent() -> str:
    return Invoice(tax_rate=settings.INVOICE_TAX_RATE).tax_label.removeprefix("VAT ")


def _issue_refusal(lead: Lead) -> str:
    """Why an invoice cannot be issued by hand for this lead ("" when it can)."""
    invoice = getattr(lead, "invoice", None)
    if invoice is not None:
        return f"This lead already has invoice {invoice.number or '(draft)'}."
    if lead.service is None:
        return "This lead is a general enquiry: it names no service to invoice."
    if lead.service.is_priced:
        return f"{lead.service.name} has a price: its invoice was issued when the lead came in."
    return ""


def _issue_preview(lines: list[InvoiceLineInput], *, currency: str) -> dict:
    """What the invoice will say, by the same rules `invoice_issue` applies."""
    invoice = Invoice(tax_rate=settings.INVOICE_TAX_RATE, currency=currency)
    amounts = [quantize(line.quantity * line.unit_price) for line in lines]
    invoice_totals_compute(invoice=invoice, line_amounts=amounts)
    return {
        "lines": [
            {**vars(line), "amount": amount} for line, amount in zip(lines, amounts, strict=True)
        ],
        "subtotal": invoice.subtotal,
        "tax": invoice.tax,
        "tax_label": invoice.tax_label,
        "total": invoice.total,
    }


def _invoice_facts(invoice: Invoice) -> list[tuple[str, str]]:
    return [
        ("Invoice", invoice.number or "(draft)"),
        ("Client", f"{invoice.client_name} ({invoice.client_email})"),
        ("Total", format_money(invoice.total, invoice.currency)),
        ("Status", invoice.get_status_display()),
        (
            "Issued",
            f"{timezone.localtime(invoice.issued_at):%d %b %Y}" if invoice.issued_at else "-",
        ),
    ]
