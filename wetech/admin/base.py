"""What the back office's admins share: read-only money records, and large lists."""

from django.contrib import admin


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


class LargeListAdmin(admin.ModelAdmin):
    """A list that grows with the business (clients, leads, invoices, payments, the ledger, the
    gateways' notifications, the outbox, the audit trail): no count of the whole table beside a
    search, and no "Show counts" on the filters. Each reads every row on every page (a count per
    filter value: half a second for the leads at 200,000); the filtered count stays."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money records are written by the payment services only; staff look and act."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
