"""Serializers of the campaigns API: they translate, the services decide."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from billing.api.viewsets import TenantPrimaryKeyRelatedField
from campaigns import stats
from campaigns.audience import audience_problems
from campaigns.models import Campaign, ScheduledMessage, Variant
from campaigns.params import count_problem, param_problems, template_problem
from chatbots.models import Chatbot, MessageTemplate
from clientes.models import Cliente
from inbox.models import Queue


def in_tenant_zone(value: datetime | None, tenant) -> datetime | None:
    """A date and time without an offset is read in the tenant's time zone (Tenant.time_zone),
    the clock its staff schedule by."""
    if value is None or timezone.is_aware(value):
        return value
    return value.replace(tzinfo=ZoneInfo(tenant.time_zone if tenant else "America/Sao_Paulo"))


class TenantDateTimeField(serializers.DateTimeField):
    """Keeps a value typed without an offset naive, for `in_tenant_zone` to place."""

    def enforce_timezone(self, value):
        return value if timezone.is_naive(value) else super().enforce_timezone(value)


class VariantInSerializer(serializers.Serializer):
    template = TenantPrimaryKeyRelatedField(queryset=MessageTemplate.objects.all())
    params = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    label = serializers.CharField(max_length=40, required=False, allow_blank=True)

    def validate_params(self, value):
        if problems := param_problems(value):
            raise serializers.ValidationError(problems)
        return value


def _count_problem(template: MessageTemplate, params: list, chatbot: Chatbot) -> str:
    """The placeholder count, for a template the bot may send (the service names the
    others' problem)."""
    if template_problem(template, chatbot):
        return ""
    return count_problem(template, params)


class VariantSerializer(serializers.ModelSerializer):
    template_name = serializers.CharField(source="template.name", read_only=True)

    class Meta:
        model = Variant
        fields = ["id", "label", "template", "template_name", "params", "winner"]
        read_only_fields = fields


class CampaignCreateSerializer(serializers.Serializer):
    """One `template` (with `params`), or `variants` for an A/B test."""

    name = serializers.CharField(max_length=120)
    chatbot = TenantPrimaryKeyRelatedField(queryset=Chatbot.objects.all())
    template = TenantPrimaryKeyRelatedField(queryset=MessageTemplate.objects.all(), required=False)
    params = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    variants = VariantInSerializer(many=True, required=False)
    audience = serializers.JSONField(required=False, default=dict)
    goal = serializers.ChoiceField(Campaign.Goal.choices, default=Campaign.Goal.REPLY)
    strategy = serializers.ChoiceField(
        Campaign.Strategy.choices, default=Campaign.Strategy.THOMPSON
    )
    scheduled_at = TenantDateTimeField(required=False, allow_null=True, default=None)
    repeat_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=365, default=None
    )
    reply_step = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    reply_queue = TenantPrimaryKeyRelatedField(
        queryset=Queue.objects.all(), required=False, allow_null=True, default=None
    )

    def validate_audience(self, value):
        if problems := audience_problems(value):
            raise serializers.ValidationError(problems)
        return value

    def validate(self, attrs):
        if bool(attrs.get("template")) == bool(attrs.get("variants")):
            raise serializers.ValidationError(
                _("Envie “template” (com “params”) ou “variants”, um dos dois.")
            )
        if attrs.get("template"):
            if problems := param_problems(attrs["params"]):
                raise serializers.ValidationError({"params": problems})
            if problem := _count_problem(attrs["template"], attrs["params"], attrs["chatbot"]):
                raise serializers.ValidationError({"params": [problem]})
            attrs["variants"] = [{"template": attrs.pop("template"), "params": attrs["params"]}]
        else:
            problems = [
                _count_problem(v["template"], v.get("params") or [], attrs["chatbot"])
                for v in attrs["variants"]
            ]
            if any(problems):
                raise serializers.ValidationError(
                    {"variants": [{"params": [p]} if p else {} for p in problems]}
                )
        attrs.pop("params", None)
        attrs.pop("template", None)
        attrs["scheduled_at"] = in_tenant_zone(
            attrs.get("scheduled_at"), self.context.get("tenant")
        )
        return attrs


class CampaignSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True, read_only=True)
    numbers = serializers.SerializerMethodField()
    ab_results = serializers.SerializerMethodField()
    costs = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "chatbot",
            "status",
            "audience",
            "goal",
            "strategy",
            "scheduled_at",
            "repeat_days",
            "reply_step",
            "reply_queue",
            "next_run_at",
            "stopped_reason",
            "created_at",
            "started_at",
            "finished_at",
            "variants",
            "numbers",
            "ab_results",
            "costs",
        ]
        read_only_fields = fields

    def get_numbers(self, obj) -> dict:
        return stats.campaign_numbers(campaign=obj)

    def get_ab_results(self, obj) -> list[dict]:
        return stats.ab_results(campaign=obj)

    def get_costs(self, obj) -> list[dict]:
        return [
            {**c, "estimated": str(c["estimated"]), "actual": str(c["actual"])}
            for c in stats.campaign_costs(campaign=obj)
        ]


class CampaignListSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = ["id", "name", "chatbot", "status", "scheduled_at", "created_at", "finished_at"]
        read_only_fields = fields


class AudienceSerializer(serializers.Serializer):
    audience = serializers.JSONField()

    def validate_audience(self, value):
        if problems := audience_problems(value):
            raise serializers.ValidationError(problems)
        return value


class ContactImportSerializer(serializers.Serializer):
    """A CSV upload (`file`, multipart), or its text in JSON (`name`, `content`)."""

    file = serializers.FileField(required=False)
    name = serializers.CharField(max_length=200, required=False, default="contatos.csv")
    content = serializers.CharField(required=False, trim_whitespace=False)

    def validate(self, attrs):
        upload = attrs.pop("file", None)
        if upload is not None:
            try:
                attrs["content"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise serializers.ValidationError(_("O arquivo deve estar em UTF-8.")) from None
            attrs["name"] = upload.name
        if not attrs.get("content"):
            raise serializers.ValidationError(_("Envie o arquivo CSV em “file” ou “content”."))
        return attrs


class ScheduledMessageSerializer(serializers.ModelSerializer):
    chatbot = TenantPrimaryKeyRelatedField(queryset=Chatbot.objects.all())
    cliente = TenantPrimaryKeyRelatedField(queryset=Cliente.objects.all())
    template = TenantPrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.all(), required=False, allow_null=True
    )

    send_at = TenantDateTimeField()

    class Meta:
        model = ScheduledMessage
        fields = [
            "id",
            "chatbot",
            "cliente",
            "text",
            "template",
            "params",
            "send_at",
            "status",
            "reason",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["status", "reason", "created_by", "created_at"]

    def validate(self, attrs):
        attrs["send_at"] = in_tenant_zone(attrs.get("send_at"), self.context.get("tenant"))
        return attrs
