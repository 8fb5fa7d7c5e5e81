"""Back office for what sells: clients, leads, services and invoices."""

import csv

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html

from wetech.admin.payments import LedgerEntryInline, PaymentAttemptInline
from wetech.models import Client, Invoice, InvoiceLine, Lead, Service
from wetech.money import format_money
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
    list_filter = ("status", "service", "source_page", "utm_source", "marketing_consent")
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
class ServiceAdmin(admin.ModelAdmin):
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
    list_filter = ("status", "currency")
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
