"""Staff actions on their own confirmation pages: a GET shows what will happen, a POST with a
reason does it. Every action checks its own permission (the Sales and Finance groups hold them,
migration 0009), so a link that is hidden is also refused.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

CONFIRM_TEMPLATE = "admin/wetech/confirm_action.html"


@dataclass(frozen=True)
class StaffAction:
    """A button on a change page leading to an action's confirmation page."""

    label: str
    url: str
    danger: bool = False


class StaffActionsMixin:
    """A change page's action buttons and the confirmation views behind them, for a ModelAdmin.

    `staff_action_views` maps each action's URL segment to the view method that serves it:
    `<object id>/<segment>/`, named `admin:<app>_<model>_<segment>` (dashes as underscores), as
    `action_url(obj, action)` reverses it. `staff_actions(request, obj)` says which buttons this
    user sees on this object's page; each view still checks its own permission."""

    staff_action_views: dict[str, str] = {}

    def get_urls(self):
        meta = self.model._meta
        return [
            path(
                f"<path:object_id>/{segment}/",
                self.admin_site.admin_view(getattr(self, view)),
                name=f"{meta.app_label}_{meta.model_name}_{segment.replace('-', '_')}",
            )
            for segment, view in self.staff_action_views.items()
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        actions = self.staff_actions(request, obj) if obj is not None else []
        extra_context = {**(extra_context or {}), "staff_actions": actions}
        return super().change_view(request, object_id, form_url, extra_context)

    def staff_actions(self, request, obj) -> list[StaffAction]:
        return []


def permission_require(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"{permission} is needed")


def actor_name(request) -> str:
    """Who the audit trail names for this request."""
    return request.user.get_username()


def object_or_404(model_admin, request, object_id):
    obj = model_admin.get_object(request, object_id)
    if obj is None or not model_admin.has_view_permission(request, obj):
        raise Http404
    return obj


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def back_to(obj):
    return redirect(change_url(obj))


def action_url(obj, action: str) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{action}", args=[obj.pk])


def confirm_page(
    model_admin,
    request,
    *,
    original,
    title: str,
    form,
    facts: list[tuple[str, str]],
    consequences: list[str],
    submit_label: str,
    refusal: str = "",
    danger: bool = False,
    template: str = CONFIRM_TEMPLATE,
    **extra,
) -> TemplateResponse:
    """The page: what this is (`facts`), what will happen (`consequences`), the form; or, when
    the action cannot be taken now, why (`refusal`) and no form."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": original,
        "title": title,
        "form": form,
        "facts": facts,
        "consequences": consequences,
        "submit_label": submit_label,
        "refusal": refusal,
        "danger": danger,
        "cancel_url": change_url(original),
        "media": model_admin.media + form.media,
        **extra,
    }
    return TemplateResponse(request, template, context)
