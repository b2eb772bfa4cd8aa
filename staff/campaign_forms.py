"""The form that writes a campaign draft in the staff app (/atendimento/campanhas/nova/): the
same fields as `POST /api/campaigns/`, checked at the field (the template's approval, the
parameters' sources and their count, the audience), then campaigns.services.campaign_create."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.audience import audience_problems
from campaigns.models import Campaign
from campaigns.params import count_problem, param_problems, template_problem
from chatbots.models import Chatbot, MessageTemplate
from inbox.models import Queue

PARAMS_HELP = _(
    'Um por valor do modelo, na ordem (cabeçalho, depois corpo), em JSON: {"field": '
    '"primeiro_nome"}, {"value": "20%"}, {"suggest": "top_product"} ou {"assistant": "um '
    'produto que combine com o que o cliente já pediu", "fallback": "nossas novidades"}.'
)


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
    params = forms.CharField(
        label=_("Parâmetros"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=PARAMS_HELP,
    )
    tags = forms.CharField(
        label=_("Público: etiquetas"), required=False, help_text=_("Separadas por vírgula.")
    )
    inactive_days = forms.IntegerField(
        label=_("Público: sem mensagem há (dias)"), min_value=1, required=False
    )
    goal = forms.ChoiceField(label=_("Objetivo"), choices=Campaign.Goal.choices)
    scheduled_at = forms.DateTimeField(
        label=_("Começa em"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )
    repeat_days = forms.IntegerField(
        label=_("Repetir a cada (dias)"), min_value=1, max_value=365, required=False
    )
    reply_step = forms.CharField(label=_("A resposta entra na etapa"), required=False)
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

    def clean_params(self) -> list:
        raw = (self.cleaned_data.get("params") or "").strip()
        try:
            spec = (
                json.loads(f"[{raw}]")
                if raw and not raw.startswith("[")
                else json.loads(raw or "[]")
            )
        except ValueError:
            raise forms.ValidationError(_("Escreva os parâmetros em JSON, como no exemplo."))
        if not isinstance(spec, list):
            raise forms.ValidationError(_("Escreva os parâmetros em JSON, como no exemplo."))
        if problems := param_problems(spec):
            raise forms.ValidationError(problems)
        return spec

    def clean_scheduled_at(self):
        value: datetime | None = self.cleaned_data.get("scheduled_at")
        if value is None:
            return None
        # Typed on the tenant's clock (Tenant.time_zone), as the API reads it.
        return value.replace(tzinfo=ZoneInfo(self.tenant.time_zone))

    def clean(self):
        data = super().clean()
        bot, params = data.get("chatbot"), data.get("params")
        for field in ("template", "template_b"):
            template = data.get(field)
            if template is None or bot is None:
                continue
            if problem := template_problem(template, bot):
                self.add_error(field, problem)
            elif isinstance(params, list) and (problem := count_problem(template, params)):
                self.add_error("params" if field == "template" else field, problem)
        if problems := audience_problems(self.audience()):
            self.add_error("tags", problems)
        return data

    def audience(self) -> dict:
        data = self.cleaned_data
        audience: dict = {}
        tags = [t.strip() for t in (data.get("tags") or "").split(",") if t.strip()]
        if tags:
            audience["tags"] = tags
        if data.get("inactive_days"):
            audience["inactive_days"] = data["inactive_days"]
        return audience

    def create_kwargs(self) -> dict:
        data = self.cleaned_data
        variants = [{"template": data["template"], "params": data["params"], "label": "A"}]
        if data.get("template_b"):
            variants.append(
                {"template": data["template_b"], "params": data["params"], "label": "B"}
            )
        return {
            "tenant": self.tenant,
            "chatbot": data["chatbot"],
            "name": data["name"],
            "variants": variants,
            "audience": self.audience(),
            "goal": data["goal"],
            "scheduled_at": data.get("scheduled_at"),
            "repeat_days": data.get("repeat_days"),
            "reply_step": data.get("reply_step") or "",
            "reply_queue": data.get("reply_queue"),
        }
