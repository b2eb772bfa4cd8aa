"""REST views for bots, their steps, conversations and messages: thin, tenant-scoped.

A bot, conversation or step of another tenant is not found (404), never forbidden.
Bots and steps are configuration (and hold the provider's secrets): owners and admins
write them. Attendants move a conversation's status (take it over, hand it back, close it),
as they do in the admin (billing.api.permissions).
"""

from __future__ import annotations

from functools import cached_property

import django_filters
from django.db.models import Max
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from billing.api.permissions import MEMBERS
from billing.api.viewsets import TenantScopedReadOnlyViewSet, TenantScopedViewSet
from chatbots import bots, selectors
from chatbots.api.serializers import (
    ChatbotSerializer,
    ConversationSerializer,
    ConversationStatusSerializer,
    MessageSerializer,
    StepSerializer,
)
from chatbots.models import Chatbot, Conversation, Message, Step
from inbox import selectors as inbox_selectors
from inbox import services as inbox_services
from inbox.api.views import REPLY_SCHEMA, inbox_error, reply_create
from inbox.api.views import visible_conversations as inbox_visible

ID = r"\d+"  # numeric ids only, so "conversations/" and "webhook/" are never taken for one


ACTIONS = ("list", "create", "retrieve", "update", "partial_update", "destroy")
DETAIL_ACTIONS = ("retrieve", "update", "partial_update", "destroy")


def _int_path_ids(*parents: str):
    """Document the numeric ids of a viewset's routes (its own and its parents') as integers.

    The routes capture them with a regex, which the schema would otherwise show as strings.
    """

    def decorate(cls):
        def params(action: str) -> list[OpenApiParameter]:
            names = [*parents, *(["id"] if action in DETAIL_ACTIONS else [])]
            return [OpenApiParameter(name, int, OpenApiParameter.PATH) for name in names]

        views = {a: extend_schema(parameters=params(a)) for a in ACTIONS if hasattr(cls, a)}
        return extend_schema_view(**views)(cls)

    return decorate


def _scoped(view, queryset):
    """The queryset limited like TenantScopedViewSet does (superuser without a tenant: all)."""
    tenant = getattr(view.request, "tenant", None)
    if tenant is not None:
        return queryset.filter(tenant=tenant)
    return queryset if getattr(view.request.user, "is_superuser", False) else queryset.none()


def _secret_changes(data: dict) -> list[str]:
    """Pop secrets sent as null (erase) from `data`; return their names."""
    cleared = [name for name in bots.SECRET_FIELDS if name in data and data[name] is None]
    for name in cleared:
        data.pop(name)
    return cleared


@_int_path_ids()
class ChatbotViewSet(TenantScopedViewSet):
    """The tenant's bots (one per WhatsApp number). Secrets are write-only."""

    queryset = Chatbot.objects.all()
    serializer_class = ChatbotSerializer
    lookup_value_regex = ID
    filterset_fields = ["active", "provider"]
    search_fields = ["name", "display_number"]
    ordering_fields = ["name", "created_at"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        _secret_changes(data)  # nothing to erase on a new bot
        serializer.instance = bots.chatbot_create(tenant=self.require_tenant(), **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        cleared = _secret_changes(data)
        serializer.instance = bots.chatbot_update(
            chatbot=serializer.instance, clear_secrets=cleared, **data
        )

    def perform_destroy(self, instance):
        bots.chatbot_delete(chatbot=instance)

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses=inline_serializer(
            "ChatbotConnectionCheck",
            {"ok": serializers.BooleanField(), "detail": serializers.CharField()},
        ),
    )
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        """Call the provider's cheapest authenticated endpoint and say how it went."""
        from chatbots.connection import chatbot_check_connection

        ok, detail = chatbot_check_connection(chatbot=self.get_object())
        return Response({"ok": ok, "detail": detail})


@_int_path_ids("chatbot_id")
class StepViewSet(TenantScopedViewSet):
    """The steps of one bot's flow, in order. The bot must be one of the tenant's."""

    queryset = Step.objects.all()
    serializer_class = StepSerializer
    lookup_value_regex = ID
    filter_backends: list = []
    pagination_class = None  # a flow has a handful of steps; the whole flow in one answer

    @cached_property
    def chatbot(self) -> Chatbot:
        return get_object_or_404(_scoped(self, Chatbot.objects.all()), pk=self.kwargs["chatbot_id"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Step.objects.none()
        return _scoped(self, selectors.step_list(chatbot=self.chatbot))

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        if "order" not in data:
            last = self.chatbot.steps.aggregate(last=Max("order"))["last"] or 0
            data["order"] = last + 1
        data.setdefault("config", {})
        serializer.instance = bots.step_create(chatbot=self.chatbot, **data)

    def perform_update(self, serializer):
        serializer.instance = bots.step_update(
            step=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        bots.step_delete(step=instance)


class ConversationFilter(django_filters.FilterSet):
    # Plain ids, not model choices: an id of another tenant's bot or customer must answer
    # like an unknown one (an empty list), not reveal that it exists.
    chatbot = django_filters.NumberFilter(field_name="chatbot_id", label="chatbot")
    cliente = django_filters.NumberFilter(field_name="cliente_id", label="cliente")

    class Meta:
        model = Conversation
        fields = ["status", "chatbot", "cliente"]


LIST_PARAMETERS = [
    OpenApiParameter(
        "queue", int, description="Só as conversas com atendimento aberto nesta fila (id)."
    ),
    OpenApiParameter(
        "assigned",
        str,
        description="Só as conversas atribuídas a esta pessoa: o id do usuário, ou “me”.",
    ),
]


@_int_path_ids()
@extend_schema_view(list=extend_schema(parameters=LIST_PARAMETERS))
class ConversationViewSet(TenantScopedViewSet):
    """The tenant's conversations, most recently active first, each with its open ticket of
    the attendant inbox (`ticket`, or null). Agents see their queues' conversations and
    those assigned to them (inbox.selectors); owners and admins see all. `PATCH {id}/`
    changes the status only (`human`: an attendant takes over and the bot stays quiet;
    `bot`: hand it back; `closed`), for every member of the tenant, as in the admin; the
    inbox actions (`assign`, `take`, `close`, `return-to-bot`) are the ticket-aware way."""

    queryset = Conversation.objects.select_related("chatbot", "cliente")
    serializer_class = ConversationSerializer
    lookup_value_regex = ID
    filterset_class = ConversationFilter
    search_fields = ["cliente__nome", "cliente__telefone"]
    ordering_fields = ["updated_at", "created_at", "last_customer_message_at"]
    http_method_names = ["get", "patch", "head", "options"]
    required_roles = {"partial_update": MEMBERS}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Conversation.objects.none()
        conversations = inbox_visible(self.request).select_related("chatbot", "cliente")
        params = self.request.query_params
        queue = params.get("queue", "")
        if queue.isdigit():
            conversations = conversations.filter(
                tickets__status__in=["waiting", "open"], tickets__queue_id=int(queue)
            )
        assigned = params.get("assigned", "")
        if assigned == "me":
            assigned = str(self.request.user.pk or "")
        if assigned.isdigit():
            conversations = conversations.filter(
                tickets__status__in=["waiting", "open"], tickets__assigned_to_id=int(assigned)
            )
        elif assigned:
            conversations = conversations.none()
        return inbox_selectors.with_open_ticket(conversations)

    def get_serializer_class(self):
        if self.action == "partial_update":
            return ConversationStatusSerializer
        return ConversationSerializer

    @extend_schema(request=ConversationStatusSerializer, responses=ConversationSerializer)
    def partial_update(self, request, *args, **kwargs):
        conversation = self.get_object()
        data = ConversationStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Only the status: saving the whole row would overwrite a step or state the engine
        # moved meanwhile (the admin saves the same way); the inbox's ticket follows it.
        try:
            inbox_services.conversation_status_set(
                conversation, request.user, data.validated_data["status"]
            )
        except inbox_services.InboxError as exc:
            return inbox_error(exc)
        conversation = self.get_queryset().get(pk=conversation.pk)
        return Response(ConversationSerializer(conversation).data)


class MessagePagination(CursorPagination):
    """Oldest first, by id: stable while new messages arrive, and no COUNT(*)."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@_int_path_ids("conversation_id")
class ConversationMessageViewSet(TenantScopedReadOnlyViewSet):
    """The messages of one conversation, in the order they were exchanged. POST: a reply
    written by a person of the staff (inbox.services.staff_reply)."""

    http_method_names = ["get", "post", "head", "options"]
    required_roles = {"create": MEMBERS}

    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    lookup_value_regex = ID
    pagination_class = MessagePagination
    filter_backends: list = []

    @cached_property
    def conversation(self) -> Conversation:
        return get_object_or_404(inbox_visible(self.request), pk=self.kwargs["conversation_id"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Message.objects.none()
        return _scoped(self, selectors.conversation_messages(conversation=self.conversation))

    @REPLY_SCHEMA
    def create(self, request, *args, **kwargs):
        return reply_create(request, self.conversation)
