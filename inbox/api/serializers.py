"""Serializers of the inbox API: they translate, the services decide (inbox.services)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from rest_framework import serializers

from billing.api.viewsets import TenantPrimaryKeyRelatedField
from inbox.models import Note, Queue, QueueHoliday, QueueHours, QuickReply, Ticket

TEXT_MAX = 4096  # WhatsApp's text body limit (chatbots.wire.TEXT_MAX)


class TicketSerializer(serializers.ModelSerializer):
    queue_name = serializers.CharField(source="queue.name", read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "status",
            "queue",
            "queue_name",
            "assigned_to",
            "opened_at",
            "assigned_at",
            "first_response_at",
            "closed_at",
            "unread",
        ]
        read_only_fields = fields


class ReplySerializer(serializers.Serializer):
    """A text, or an approved template with its body parameters (outside the window)."""

    text = serializers.CharField(required=False, allow_blank=False, max_length=TEXT_MAX)
    template = serializers.CharField(required=False, max_length=512)
    params = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )

    def validate(self, attrs):
        if bool(attrs.get("text")) == bool(attrs.get("template")):
            raise serializers.ValidationError(
                _("Envie “text” ou “template” (com “params”), um dos dois.")
            )
        return attrs


class AssignSerializer(serializers.Serializer):
    user = serializers.IntegerField(required=False, allow_null=True)
    queue = serializers.IntegerField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class NoteSerializer(serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Note
        fields = ["id", "conversation", "ticket", "author", "author_name", "text", "created_at"]
        read_only_fields = ["id", "conversation", "ticket", "author", "author_name", "created_at"]

    def get_author_name(self, obj: Note) -> str:
        author = obj.author
        return (author.get_full_name() or author.get_username()) if author else ""


class QueueHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = QueueHours
        fields = ["weekday", "opens", "closes"]

    def validate(self, attrs):
        if attrs["closes"] <= attrs["opens"]:
            raise serializers.ValidationError(_("O horário de fechar deve ser depois do de abrir."))
        return attrs


class QueueHolidaySerializer(serializers.ModelSerializer):
    class Meta:
        model = QueueHoliday
        fields = ["date", "name"]


class _TenantUserField(serializers.PrimaryKeyRelatedField):
    """Users on the request tenant's staff only."""

    def get_queryset(self):
        tenant = self.context.get("tenant")
        users = get_user_model().objects.all()
        return users.filter(memberships__tenant=tenant) if tenant else users.none()


class QueueSerializer(serializers.ModelSerializer):
    members = _TenantUserField(many=True, required=False)
    hours = QueueHoursSerializer(many=True, required=False)
    holidays = QueueHolidaySerializer(many=True, required=False)

    class Meta:
        model = Queue
        fields = [
            "id",
            "name",
            "slug",
            "is_default",
            "members",
            "time_zone",
            "hours",
            "holidays",
            "position_message",
            "closed_message",
            "timeout_minutes",
            "timeout_action",
            "timeout_message",
            "auto_assign",
            "max_per_agent",
        ]
        read_only_fields = ["id"]
        validators = []  # (tenant, slug) is checked by inbox.services with a pt-BR message


class QuickReplySerializer(serializers.ModelSerializer):
    queue = TenantPrimaryKeyRelatedField(
        queryset=Queue.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = QuickReply
        fields = ["id", "queue", "shortcut", "text"]
        read_only_fields = ["id"]
        validators = []
