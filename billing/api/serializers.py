"""Serializers of the billing API: translate only; the services decide."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from billing.services import FIRST_API_KEY_NAME


class TenantProvisionSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, label=_("nome"))
    slug = serializers.SlugField(max_length=64, label=_("identificador"))
    plan = serializers.CharField(max_length=100, label=_("plano"))
    owner_email = serializers.EmailField(label=_("e-mail do proprietário"))
    owner_password = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        help_text=_("Em branco: uma senha é gerada e mostrada uma única vez."),
    )
    time_zone = serializers.CharField(max_length=64, default="America/Sao_Paulo")
    domain = serializers.CharField(max_length=253, required=False, allow_blank=True, default="")
    api_key_name = serializers.CharField(max_length=50, default=FIRST_API_KEY_NAME)


class TenantProvisionedSerializer(serializers.Serializer):
    """What the provisioning call answers: the API key and a generated password appear
    here once and are never shown again."""

    id = serializers.IntegerField(source="tenant.pk")
    slug = serializers.CharField(source="tenant.slug")
    name = serializers.CharField(source="tenant.name")
    owner_email = serializers.EmailField(source="owner.email")
    owner_password = serializers.CharField(allow_null=True)
    plan = serializers.CharField(source="tenant.subscription.plan.name")
    subscription_status = serializers.CharField(source="tenant.subscription.status")
    trial_end = serializers.DateTimeField(source="tenant.subscription.trial_end", allow_null=True)
    api_key = serializers.CharField(source="plain_key")
    api_key_prefix = serializers.CharField(source="api_key.prefix")


class AttendanceRowSerializer(serializers.Serializer):
    handled = serializers.IntegerField(help_text="conversations a person first answered")
    resolved = serializers.IntegerField(help_text="closed by a person")
    avg_first_response_seconds = serializers.FloatField(allow_null=True)
    avg_resolution_seconds = serializers.FloatField(allow_null=True)


class AttendanceAgentSerializer(AttendanceRowSerializer):
    user = serializers.IntegerField()
    name = serializers.CharField()


class AttendanceQueueSerializer(AttendanceRowSerializer):
    queue = serializers.IntegerField()
    name = serializers.CharField()


class AttendanceSerializer(AttendanceRowSerializer):
    """The attendant inbox in the period (inbox.numbers)."""

    waiting_now = serializers.IntegerField()
    per_agent = AttendanceAgentSerializer(many=True)
    per_queue = AttendanceQueueSerializer(many=True)


class SummarySerializer(serializers.Serializer):
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    plan = serializers.CharField()
    subscription_status = serializers.CharField()
    blocked = serializers.CharField(help_text="'' | messages | past_due | trial_ended | canceled")
    messages_in = serializers.IntegerField()
    messages_out = serializers.IntegerField()
    messages = serializers.IntegerField()
    messages_limit = serializers.IntegerField(help_text="0: no cap")
    ai_tokens = serializers.IntegerField()
    ai_tokens_limit = serializers.IntegerField(help_text="0: no cap")
    estimated_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    avg_response_seconds = serializers.FloatField(allow_null=True)
    orders = serializers.IntegerField()
    orders_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    appointments = serializers.IntegerField(allow_null=True)
    appointments_attended = serializers.IntegerField(allow_null=True)
    appointments_no_show = serializers.IntegerField(allow_null=True)
    attendance_rate = serializers.FloatField(allow_null=True)
    attendance = AttendanceSerializer()


class HistoryDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    messages_in = serializers.IntegerField()
    messages_out = serializers.IntegerField()
    ai_tokens = serializers.IntegerField()
    estimated_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    orders = serializers.IntegerField()
    orders_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    appointments = serializers.IntegerField(allow_null=True)
    avg_response_seconds = serializers.FloatField(allow_null=True)


class HistorySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["week", "month"])
    results = HistoryDaySerializer(many=True)
