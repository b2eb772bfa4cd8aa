"""Bots, steps, conversations and messages over the API. Writes go through chatbots.bots.

Secrets are write-only: no response ever carries them, only whether each one is set.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chatbots.models import Chatbot, Conversation, Message, Step
from chatbots.providers.registry import provider_choices
from inbox.api.serializers import TicketSerializer

SECRET_HELP = _("Só escrita. Vazio mantém o valor atual; null apaga.")


class ChatbotSerializer(serializers.ModelSerializer):
    # An enum in the schema: the registered providers (chatbots.providers.registry).
    provider = serializers.ChoiceField(
        choices=provider_choices(),
        help_text=Chatbot._meta.get_field("provider").help_text,
        error_messages={
            "invalid_choice": _("Provedor desconhecido: '{input}'. Use um destes: {known}.")
        },
    )
    access_token = serializers.CharField(
        write_only=True, required=False, allow_blank=True, allow_null=True, help_text=SECRET_HELP
    )
    app_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, allow_null=True, help_text=SECRET_HELP
    )
    provider_secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        write_only=True,
        required=False,
        allow_null=True,
        help_text=_(
            'Só escrita. Objeto com os segredos do provedor, ex.: {"api_key": "..."}. '
            "Vazio mantém o valor atual; null apaga."
        ),
    )
    access_token_set = serializers.SerializerMethodField()
    app_secret_set = serializers.SerializerMethodField()
    provider_secrets_set = serializers.SerializerMethodField()

    class Meta:
        model = Chatbot
        fields = [
            "id",
            "name",
            "provider",
            "display_number",
            "phone_number_id",
            "waba_id",
            "verify_token",
            "access_token",
            "access_token_set",
            "app_secret",
            "app_secret_set",
            "provider_config",
            "provider_secrets",
            "provider_secrets_set",
            "active",
            "messages_per_second",
            "language",
            "options",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            # Uniqueness is checked by chatbots.bots, with pt-BR messages.
            "phone_number_id": {"validators": []},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A deployment's own provider may register after this module was imported.
        field = self.fields["provider"]
        field.choices = provider_choices()
        known = ", ".join(key for key, _label in provider_choices())
        field.error_messages = {
            **field.error_messages,
            "invalid_choice": str(field.error_messages["invalid_choice"]).replace("{known}", known),
        }

    def get_access_token_set(self, obj: Chatbot) -> bool:
        return bool(obj.access_token)

    def get_app_secret_set(self, obj: Chatbot) -> bool:
        return bool(obj.app_secret)

    def get_provider_secrets_set(self, obj: Chatbot) -> bool:
        return bool(obj.provider_secrets)


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = Step
        fields = ["id", "chatbot", "code", "handler_path", "order", "config", "active"]
        # The bot comes from the URL: a step never names (or moves to) another bot.
        read_only_fields = ["id", "chatbot"]
        extra_kwargs = {"config": {"required": False}, "order": {"required": False}}
        validators = []  # (chatbot, code) is checked by chatbots.bots with a pt-BR message


class ConversationSerializer(serializers.ModelSerializer):
    cliente_nome = serializers.CharField(source="cliente.nome", read_only=True)
    chatbot_name = serializers.CharField(source="chatbot.name", read_only=True)
    ticket = serializers.SerializerMethodField(
        help_text="O atendimento aberto (aguardando ou com uma pessoa), ou null."
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "chatbot",
            "chatbot_name",
            "cliente",
            "cliente_nome",
            "status",
            "current_step",
            "state",
            "last_customer_message_at",
            "created_at",
            "updated_at",
            "ticket",
        ]
        read_only_fields = fields

    @extend_schema_field(TicketSerializer(allow_null=True))
    def get_ticket(self, obj: Conversation):
        tickets = getattr(obj, "open_tickets", None)  # prefetched by inbox.selectors
        if tickets is None:
            tickets = list(obj.tickets.filter(status__in=["waiting", "open"])[:1])
        return TicketSerializer(tickets[0]).data if tickets else None


class ConversationStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices)


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "type",
            "text",
            "payload",
            "status",
            "error_code",
            "error_detail",
            "provider_message_id",
            "created_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
        ]
        read_only_fields = fields
