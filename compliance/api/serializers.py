from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from compliance.models import AuditLog, ConsentEvent


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "actor_type",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "changes",
            "ip",
            "request_id",
        ]
        read_only_fields = fields


class PersonSerializer(serializers.Serializer):
    """One person of the tenant, by phone (any spelling) or WhatsApp user id (BSUID)."""

    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    whatsapp_user_id = serializers.CharField(required=False, allow_blank=True, max_length=64)


class ExportRequestSerializer(PersonSerializer):
    output = serializers.ChoiceField(choices=["json", "zip"], default="json")


class EraseRequestSerializer(PersonSerializer):
    confirm = serializers.BooleanField(help_text="Must be true: erasure cannot be undone.")

    def validate_confirm(self, value):
        if not value:
            raise serializers.ValidationError(_("Envie confirm=true: o apagamento não tem volta."))
        return value


class EraseResultSerializer(serializers.Serializer):
    erased = serializers.BooleanField()
    clientes = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())


class ConsentRequestSerializer(PersonSerializer):
    opted_out = serializers.BooleanField()


class ConsentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentEvent
        fields = ["opted_out", "source", "actor_label", "detail", "occurred_at"]


class ConsentStateSerializer(serializers.Serializer):
    cliente_id = serializers.IntegerField()
    opted_out = serializers.BooleanField()
    optout_em = serializers.DateTimeField(allow_null=True)
    history = ConsentEventSerializer(many=True)
