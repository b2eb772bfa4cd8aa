"""The attendant inbox's actions on a conversation and staff replies, under
/api/chatbots/conversations/{id}/: take, assign, close, return-to-bot, and the POST of
messages/. Thin: inbox.services decides; the conversation is scoped to what the caller may
see (inbox.selectors), so another queue's or tenant's answers 404.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.permissions import MEMBERS, TenantRolePermission
from chatbots.api.serializers import ConversationSerializer, MessageSerializer
from chatbots.models import Conversation
from inbox import services
from inbox.api.serializers import AssignSerializer, ReplySerializer
from inbox.api.views import ERROR_BODY, inbox_error, visible_conversations


def reply_create(request, conversation: Conversation) -> Response:
    """POST conversations/{id}/messages/: a staff reply (chatbots.api's message viewset)."""
    data = ReplySerializer(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        row = services.staff_reply(
            conversation,
            request.user,
            text=data.validated_data.get("text"),
            template=data.validated_data.get("template"),
            params=data.validated_data.get("params", []),
        )
    except services.InboxError as exc:
        return inbox_error(exc)
    return Response(MessageSerializer(row).data, status=status.HTTP_201_CREATED)


REPLY_SCHEMA = extend_schema(
    request=ReplySerializer,
    responses={
        201: OpenApiResponse(description=_("A mensagem na fila de envio.")),
        409: OpenApiResponse(
            ERROR_BODY,
            description=_("Fora da janela de 24 horas sem modelo: code “outside_24h_window”."),
        ),
        400: ERROR_BODY,
    },
    description=_(
        "Resposta de uma pessoa da equipe, pela mesma fila de envio do robô. "
        'Fora da janela de 24 horas, envie {"template": "nome", "params": [...]} com '
        "um modelo aprovado."
    ),
)


def _ticket_response(conversation: Conversation, ticket) -> Response:
    conversation.refresh_from_db()
    conversation.open_tickets = [ticket] if ticket.is_open else []
    return Response(ConversationSerializer(conversation).data)


class ConversationActionViewSet(viewsets.GenericViewSet):
    """The inbox's actions on a conversation, at /api/chatbots/conversations/{id}/<action>/
    (registered next to chatbots.api's ConversationViewSet). The services write the audit
    log; the conversation is scoped to what the caller may see."""

    queryset = Conversation.objects.all()
    serializer_class = ConversationSerializer
    permission_classes = [TenantRolePermission]
    lookup_value_regex = r"\d+"
    required_roles = {
        "assign": MEMBERS,
        "close": MEMBERS,
        "return_to_bot": MEMBERS,
        "take": MEMBERS,
    }
    role_operations = {
        "assign": gettext_lazy("atribuir ou transferir conversas"),
        "close": gettext_lazy("encerrar atendimentos"),
        "return_to_bot": gettext_lazy("devolver conversas ao robô"),
        "take": gettext_lazy("assumir conversas"),
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Conversation.objects.none()
        return visible_conversations(self.request).select_related("chatbot", "cliente")

    def _open_ticket(self, conversation):
        ticket = services.open_ticket_of(conversation)
        if ticket is None:
            raise exceptions.NotFound(
                _("Esta conversa não está com a equipe (sem atendimento aberto).")
            )
        return ticket

    def _run(self, work) -> Response:
        conversation = self.get_object()
        try:
            ticket = work(conversation)
        except services.InboxError as exc:
            return inbox_error(exc)
        return _ticket_response(conversation, ticket)

    @extend_schema(request=None, responses={200: ConversationSerializer, 409: ERROR_BODY})
    @action(detail=True, methods=["post"])
    def take(self, request, pk=None):
        """Take the conversation's waiting ticket (the caller becomes its attendant)."""
        return self._run(lambda c: services.ticket_take(self._open_ticket(c), request.user))

    @extend_schema(
        request=AssignSerializer,
        responses={200: ConversationSerializer, 400: ERROR_BODY, 409: ERROR_BODY},
        description=_(
            "Atribui a uma pessoa (“user”) ou transfere para uma fila (“queue”), com uma "
            "nota interna opcional (“note”). Sem nenhum dos dois, volta para a espera da fila. "
            "Uma conversa com o robô é aberta na fila indicada (ou na padrão)."
        ),
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_id, queue_id = data.validated_data.get("user"), data.validated_data.get("queue")
        user = None
        if user_id is not None:
            user = (
                get_user_model()
                .objects.filter(pk=user_id, memberships__tenant=request.tenant)
                .first()
            )
            if user is None:
                return inbox_error(
                    services.NotInTenant(_("Essa pessoa não faz parte da equipe desta empresa."))
                )

        def work(conversation):
            ticket = services.open_ticket_of(conversation) or services.ticket_open(
                conversation, queue=queue_id
            )
            return services.ticket_assign(
                ticket, request.user, user=user, queue=queue_id, note=data.validated_data["note"]
            )

        return self._run(work)

    @extend_schema(request=None, responses={200: ConversationSerializer, 409: ERROR_BODY})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the ticket: the bot answers the customer's next message from the start."""
        return self._run(lambda c: services.ticket_close(self._open_ticket(c), request.user))

    @extend_schema(request=None, responses={200: ConversationSerializer, 409: ERROR_BODY})
    @action(detail=True, methods=["post"], url_path="return-to-bot")
    def return_to_bot(self, request, pk=None):
        """Give the conversation back to the bot now, at its current step."""
        return self._run(
            lambda c: services.ticket_return_to_bot(self._open_ticket(c), request.user)
        )
