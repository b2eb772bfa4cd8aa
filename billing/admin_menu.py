"""The admin's menu: what a business owner opens is grouped by business; the technical
tables (raw webhook events, scheduled tasks, login lockouts, the API key library's own
table) are hidden from tenant staff and gathered in one "Técnico" section for superusers.

Only the menu changes: each model admin's own permissions still decide who may open what
(billing.admin_tenancy)."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.utils.translation import gettext_lazy as _

# app_label.model_name of the tables only an operator reads.
TECHNICAL_MODELS = frozenset(
    {
        "chatbots.inboundevent",
        "agenda.calwebhookevento",
        "billing.paymentevent",  # the payment provider's raw webhooks
    }
)
# Whole apps that are machinery, not business (third-party admin tables).
TECHNICAL_APPS = frozenset(
    {
        "django_celery_beat",
        "django_celery_results",
        "axes",
        "rest_framework_api_key",
        "sites",
        "token_blacklist",  # simplejwt's refresh-token bookkeeping
    }
)
TECHNICAL_LABEL = "tecnico"


def _technical(app_label: str, model: dict) -> bool:
    name = f"{app_label}.{model['object_name'].lower()}"
    return app_label in TECHNICAL_APPS or name in TECHNICAL_MODELS


def app_list(site: AdminSite, request, app_label: str | None = None) -> list[dict]:
    """AdminSite.get_app_list with the technical models moved out (see the module docstring)."""
    apps = AdminSite.get_app_list(site, request, app_label)
    if app_label is not None:
        return apps
    technical: list[dict] = []
    kept = []
    for app in apps:
        models = []
        for model in app["models"]:
            if _technical(app["app_label"], model):
                technical.append({**model, "name": f"{model['name']} ({app['name']})"})
            else:
                models.append(model)
        if models:
            kept.append({**app, "models": models})
    if request.user.is_superuser and technical:
        kept.append(
            {
                "name": _("Técnico (só superusuários)"),
                "app_label": TECHNICAL_LABEL,
                "app_url": "",
                "has_module_perms": True,
                "models": sorted(technical, key=lambda m: str(m["name"])),
            }
        )
    return kept


def install(site: AdminSite) -> None:
    site.get_app_list = lambda request, app_label=None: app_list(site, request, app_label)
