"""Back office: clients, leads, services, invoices and payments."""

import csv

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from modeltranslation.admin import TranslationAdmin

from wetech.models import (
    Client,
    GatewayNotification,
    Invoice,
    InvoiceLine,
    Lead,
    LedgerEntry,
    PaymentAttempt,
    Service,
)
from wetech.money import format_money
from wetech.payments.gateways.base import GatewayError, MalformedNotification
from wetech.payments.gateways.registry import UnknownGateway
from wetech.payments.inbox import notification_process
from wetech.payments.reconcile import attempt_recheck
from wetech.sales.invoicing import invoice_issue, invoice_totals_compute

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A CSV cell that a spreadsheet shows as text, never evaluates (OWASP "CSV injection")."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "phone", "company", "created_at")
    search_fields = ("name", "email", "phone", "company")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
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
        "source_page",
        "utm_source",
        "marketing_consent",
        "language",
    )
    search_fields = ("name", "email", "phone", "company", "message", "client__email")
    list_select_related = ("service", "invoice")
    date_hierarchy = "created_at"
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


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("created_at", "kind", "amount", "currency", "gateway", "gateway_reference")
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
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
    list_filter = ("status", "currency", "language")
    search_fields = ("number", "client_name", "client_email", "client_phone", "client_company")
    date_hierarchy = "created_at"
    raw_id_fields = ("client", "lead")
    inlines = (InvoiceLineInline, PaymentAttemptInline, LedgerEntryInline)
    actions = ("issue_drafts",)
    _money_readonly = (
        "subtotal_display",
        "tax_display",
        "total_display",
        "public_link",
        "created_at",
        "updated_at",
    )

    def get_inlines(self, request, obj):
        # Drafts cannot be paid; leaving the payment inlines out keeps their forms unchanged.
        if obj is None or obj.status == Invoice.Status.DRAFT:
            return (InvoiceLineInline,)
        return self.inlines

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money records are written by the payment services only; staff look and act."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(ReadOnlyAdmin):
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
    list_filter = ("status", "gateway", "needs_refund", "provider")
    search_fields = ("merchant_reference", "gateway_reference", "invoice__number")
    list_select_related = ("invoice",)
    date_hierarchy = "created_at"
    actions = ("recheck_now",)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, attempt):
        return format_money(attempt.amount, attempt.currency)

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
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "invoice",
        "kind",
        "amount_display",
        "gateway",
        "gateway_reference",
        "attempt",
    )
    list_filter = ("kind", "gateway", "currency")
    search_fields = ("gateway_reference", "invoice__number", "attempt__merchant_reference")
    list_select_related = ("invoice", "attempt")
    date_hierarchy = "created_at"

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, entry):
        return format_money(entry.signed_amount, entry.currency)


@admin.register(GatewayNotification)
class GatewayNotificationAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "gateway", "kind", "method", "result", "attempt", "remote_ip")
    list_filter = ("gateway", "kind", "result")
    search_fields = ("query_string", "body", "attempt__merchant_reference")
    list_select_related = ("attempt",)
    date_hierarchy = "received_at"
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
