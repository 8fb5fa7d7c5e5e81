"""Back office for money: payment attempts, the ledger and the gateways' notifications."""

from django.contrib import admin, messages

from wetech.admin.base import ReadOnlyAdmin, ReadOnlyInline
from wetech.models import GatewayNotification, LedgerEntry, PaymentAttempt
from wetech.money import format_money
from wetech.payments.gateways.base import GatewayError, MalformedNotification
from wetech.payments.gateways.registry import UnknownGateway
from wetech.payments.inbox import notification_process
from wetech.payments.reconcile import attempt_recheck


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
