"""The staff dashboard at /admin/dashboard/ (routed through `admin.site.admin_view`: staff only)."""

from django.contrib import admin
from django.template.response import TemplateResponse

from wetech.dashboard import dashboard_figures
from wetech.dashboard_charts import dashboard_charts


def dashboard(request):
    figures = dashboard_figures()
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "figures": figures,
        "charts": dashboard_charts(figures),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
