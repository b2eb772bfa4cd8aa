"""A/B tests of steps in the admin: read-only, with the results table (experiments.stats).
They are started and stopped in the studio's step page (staff.experiment_views), where the
rules of experiments.services apply. Scoped to the user's tenants (billing.admin_tenancy)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.admin_tenancy import TenantScopedAdmin
from experiments import stats
from experiments.models import StepExperiment


@admin.register(StepExperiment)
class StepExperimentAdmin(TenantScopedAdmin):
    list_display = ["step", "goal", "strategy", "status", "winner", "started_at"]
    list_filter = ["status", "goal"]
    fields = ["step", "goal", "strategy", "status", "winner", "started_at", "finished_at"]
    readonly_fields = [*fields, "results"]
    list_select_related = ["step", "winner"]

    def get_fields(self, request, obj=None):
        return [*self.fields, "results"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("Resultados"))
    def results(self, obj: StepExperiment) -> str:
        rows = stats.results(experiment=obj)
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("Variante"),
            _("Mostrada a"),
            _("Atingiram o objetivo"),
            _("Taxa"),
            _("Confiança da diferença"),
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}</td></tr>",
            (
                (
                    r.variant.text,
                    r.shown,
                    r.goals,
                    round(r.rate * 100),
                    "—" if r.confidence is None else f"{round(r.confidence * 100)}%",
                )
                for r in rows
            ),
        )
        return format_html("<table>{}{}</table>", head, body)
