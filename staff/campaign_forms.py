"""The form that writes a campaign draft in the staff app (/atendimento/campanhas/nova/): the
same fields as `POST /api/campaigns/`, checked at the field (the template's approval, the
audience), the parameters as one row per placeholder (staff.campaign_params), then
campaigns.services.campaign_create. Every audience filter of campaigns.audience is a field,
the choices from the tenant's own tags, products, services and imports."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import F, Func
from django.utils.translation import gettext_lazy as _

from agenda.models import Servico
from campaigns.audience import audience_problems
from campaigns.models import Campaign, ContactImport
from campaigns.params import param_problems, template_problem
from chatbots.models import Chatbot, MessageTemplate, Step
from clientes.models import Cliente
from inbox.models import Queue
from insights.models import Segmento
from pedidos.models import Produto
from staff.campaign_params import ParamRows

AUDIENCE_FIELDS = (
    "tags",
    "inactive_days",
    "bought_product",
    "spent_over",
    "last_order_before",
    "appointment_service",
    "no_show",
    "segment",
    "import_id",
)


def tenant_tags(tenant) -> list[str]:
    """The tags the tenant's customers carry (Cliente.tags is a JSON list), sorted."""
    rows = (
        Cliente.objects.filter(tenant=tenant)
        .annotate(tag=Func(F("tags"), function="jsonb_array_elements_text"))
        .values_list("tag", flat=True)
        .distinct()
    )
    return sorted(rows)


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Nome"), max_length=120)
    chatbot = forms.ModelChoiceField(label=_("Chatbot"), queryset=Chatbot.objects.none())
    template = forms.ModelChoiceField(
        label=_("Modelo de mensagem"), queryset=MessageTemplate.objects.none()
    )
    template_b = forms.ModelChoiceField(
        label=_("Variante B (teste A/B, opcional)"),
        queryset=MessageTemplate.objects.none(),
        required=False,
    )
    tags = forms.MultipleChoiceField(
        label=_("Com alguma destas etiquetas"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    inactive_days = forms.IntegerField(
        label=_("Sem mandar mensagem há (dias)"), min_value=1, required=False
    )
    bought_product = forms.ModelChoiceField(
        label=_("Já comprou o produto"), queryset=Produto.objects.none(), required=False
    )
    spent_over = forms.DecimalField(
        label=_("Gastou mais de (R$)"), min_value=0, decimal_places=2, required=False
    )
    last_order_before = forms.DateField(
        label=_("Último pedido antes de"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    appointment_service = forms.ModelChoiceField(
        label=_("Já agendou o serviço"), queryset=Servico.objects.none(), required=False
    )
    no_show = forms.BooleanField(label=_("Faltou a um agendamento"), required=False)
    segment = forms.MultipleChoiceField(
        label=_("Segmento"),
        choices=Segmento.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    import_id = forms.ModelChoiceField(
        label=_("Contatos importados (CSV)"),
        queryset=ContactImport.objects.none(),
        required=False,
    )
    goal = forms.ChoiceField(label=_("Objetivo"), choices=Campaign.Goal.choices)
    strategy = forms.ChoiceField(
        label=_("Como dividir o envio entre A e B"),
        choices=Campaign.Strategy.choices,
        initial=Campaign.Strategy.THOMPSON,
        required=False,
    )
    scheduled_at = forms.DateTimeField(
        label=_("Começa em"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )
    repeat_days = forms.IntegerField(
        label=_("Repetir a cada (dias)"), min_value=1, max_value=365, required=False
    )
    reply_step = forms.ChoiceField(label=_("A resposta entra na etapa"), required=False)
    reply_queue = forms.ModelChoiceField(
        label=_("Ou abre atendimento na fila"), queryset=Queue.objects.none(), required=False
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["chatbot"].queryset = Chatbot.objects.filter(tenant=tenant)
        approved = MessageTemplate.objects.filter(tenant=tenant, approved=True)
        self.fields["template"].queryset = approved
        self.fields["template_b"].queryset = approved
        self.fields["reply_queue"].queryset = Queue.objects.filter(tenant=tenant)
        self.fields["tags"].choices = [(t, t) for t in tenant_tags(tenant)]
        if not self.fields["tags"].choices:
            self.fields["tags"].help_text = _("Nenhum cliente tem etiqueta ainda.")
        steps = Step.objects.filter(chatbot__tenant=tenant).select_related("chatbot")
        self.fields["reply_step"].choices = [("", _("(nenhuma)"))] + sorted(
            {(s.code, f"{s.chatbot.name} · {s.code}") for s in steps}, key=lambda c: c[1]
        )
        self.fields["bought_product"].queryset = Produto.objects.filter(tenant=tenant).order_by(
            "nome"
        )
        self.fields["appointment_service"].queryset = Servico.objects.filter(
            tenant=tenant
        ).order_by("nome")
        self.fields["import_id"].queryset = ContactImport.objects.filter(tenant=tenant).order_by(
            "-created_at"
        )
        self.params_a = ParamRows.read("a", self._chosen("template"), self.data)
        self.params_b = ParamRows.read("b", self._chosen("template_b"), self.data)

    def _chosen(self, name: str) -> MessageTemplate | None:
        """The template picked in `name` (for the rows before the form is cleaned)."""
        pk = self.data.get(name) if self.is_bound else self.initial.get(name)
        if not pk or not str(pk).isdigit():
            return None
        return self.fields[name].queryset.filter(pk=pk).first()

    def audience_fields(self):
        return [self[name] for name in AUDIENCE_FIELDS]

    def other_fields(self):
        return [self[name] for name in self.fields if name not in AUDIENCE_FIELDS]

    def clean_scheduled_at(self):
        value: datetime | None = self.cleaned_data.get("scheduled_at")
        if value is None:
            return None
        # Typed on the tenant's clock (Tenant.time_zone), as the API reads it.
        return value.replace(tzinfo=ZoneInfo(self.tenant.time_zone))

    def clean(self):
        data = super().clean()
        bot = data.get("chatbot")
        for name, rows in (("template", self.params_a), ("template_b", self.params_b)):
            template = data.get(name)
            if template is None or bot is None:
                continue
            if problem := template_problem(template, bot):
                self.add_error(name, problem)
            elif not rows.check():
                self.add_error(None, _("Confira os parâmetros marcados."))
            elif problems := param_problems(rows.specs()):
                self.add_error(None, problems)
        if problems := audience_problems(self.audience()):
            self.add_error(None, problems)
        return data

    def audience(self) -> dict:
        """The audience dict `POST /api/campaigns/` takes (campaigns.audience)."""
        data = getattr(self, "cleaned_data", {})
        audience: dict = {}
        if tags := data.get("tags"):
            audience["tags"] = list(tags)
        if data.get("inactive_days"):
            audience["inactive_days"] = data["inactive_days"]
        if data.get("bought_product"):
            audience["bought_product"] = data["bought_product"].pk
        if (over := data.get("spent_over")) is not None:
            audience["spent_over"] = int(over) if over == int(over) else float(over)
        if data.get("last_order_before"):
            audience["last_order_before"] = data["last_order_before"].isoformat()
        if data.get("appointment_service"):
            audience["appointment_service"] = data["appointment_service"].pk
        if data.get("no_show"):
            audience["no_show"] = True
        if segment := data.get("segment"):
            audience["segment"] = list(segment)
        if data.get("import_id"):
            audience["import_id"] = data["import_id"].pk
        return audience

    def create_kwargs(self) -> dict:
        data = self.cleaned_data
        variants = [{"template": data["template"], "params": self.params_a.specs(), "label": "A"}]
        if data.get("template_b"):
            variants.append(
                {"template": data["template_b"], "params": self.params_b.specs(), "label": "B"}
            )
        return {
            "tenant": self.tenant,
            "chatbot": data["chatbot"],
            "name": data["name"],
            "variants": variants,
            "audience": self.audience(),
            "goal": data["goal"],
            "strategy": data.get("strategy") or Campaign.Strategy.THOMPSON,
            "scheduled_at": data.get("scheduled_at"),
            "repeat_days": data.get("repeat_days"),
            "reply_step": data.get("reply_step") or "",
            "reply_queue": data.get("reply_queue"),
        }
