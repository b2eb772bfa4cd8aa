from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from integrations.catalog import EventType
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), allow_empty=False
    )
    # Write-only: never echoed back (the API answers with `has_secret`).
    secret = serializers.CharField(write_only=True, required=False, min_length=16, max_length=200)
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "description",
            "url",
            "events",
            "secret",
            "has_secret",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secret)

    def validate(self, attrs):
        if self.instance is None and not attrs.get("secret"):
            raise serializers.ValidationError(
                {
                    "secret": _(
                        "Informe o segredo usado para assinar os eventos (16 caracteres ou mais)."
                    )
                }
            )
        if "events" in attrs:
            attrs["events"] = [e for e in EventType.values if e in attrs["events"]]
        return attrs


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "at", "status_code", "response_excerpt", "error", "duration_ms"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields
