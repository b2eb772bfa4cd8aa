"""REST views of the attendant inbox: thin, tenant-scoped; the services decide.

Mounted under /api/chatbots/conversations/ (the conversation actions, its messages' POST
and its notes: chatbots.api) and /api/inbox/ (queues and quick replies). A conversation an
agent may not see (another queue's, another tenant's) is not found (404). Every member
works conversations (reply, assign, close, notes); owners and admins configure queues and
quick replies; every member reads them.
"""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.permissions import MEMBERS, TenantRolePermission, request_role
from billing.api.viewsets import TenantScopedViewSet
from billing.models import Membership
from chatbots.api.serializers import ConversationSerializer, MessageSerializer
from chatbots.models import Conversation
from inbox import queues, selectors, services
from inbox.api.serializers import (
    AssignSerializer,
    NoteSerializer,
    QueueSerializer,
    QuickReplySerializer,
    ReplySerializer,
    TicketSerializer,
)
from inbox.models import Note, Queue, QuickReply

ERROR_BODY = inline_serializer(
    "InboxError", {"code": serializers.CharField(), "detail": serializers.CharField()}
)


def request_membership(request) -> Membership:
    """The caller as a Membership of `request.tenant` (an API key or a superuser acts as a
    manager, unsaved)."""
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        raise exceptions.ValidationError(
            {"tenant": _("Indique a empresa com o cabeçalho X-Tenant.")}
        )
    user = request.user
    role = request_role(request) or Membership.Role.AGENT
    user_id = user.pk if isinstance(user, get_user_model()) else None
    return Membership(tenant=tenant, user_id=user_id, role=role)


def visible_conversations(request):
    """The request's conversations as the caller may see them (superuser without a tenant:
    all)."""
    if getattr(request, "tenant", None) is None:
        if getattr(request.user, "is_superuser", False):
            return Conversation.objects.all()
        return Conversation.objects.none()
    return selectors.visible_conversations(request_membership(request))


def inbox_error(exc: services.InboxError) -> Response:
    """409 for a conflict with the conversation's state (window closed, ticket taken or
    closed), 400 for a request that names something wrong."""
    conflict = isinstance(exc, services.WindowClosed | services.TicketUnavailable)
    code = status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST
    return Response({"code": exc.code, "detail": exc.detail}, status=code)


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


class ConversationNoteViewSet(TenantScopedViewSet):
    """Internal notes of a conversation: staff read and write them; never sent."""

    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    http_method_names = ["get", "post", "head", "options"]
    required_roles = {"create": MEMBERS}
    filter_backends: list = []
    pagination_class = None  # a handful per conversation

    @cached_property
    def conversation(self) -> Conversation:
        return get_object_or_404(
            visible_conversations(self.request), pk=self.kwargs["conversation_id"]
        )

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Note.objects.none()
        return selectors.notes_of(self.conversation)

    @extend_schema(
        parameters=[OpenApiParameter("conversation_id", int, OpenApiParameter.PATH)],
        responses={201: NoteSerializer, 400: ERROR_BODY},
    )
    def create(self, request, *args, **kwargs):
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            note = services.note_add(self.conversation, request.user, data.validated_data["text"])
        except services.InboxError as exc:
            return inbox_error(exc)
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("conversation_id", int, OpenApiParameter.PATH)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class QueueViewSet(TenantScopedViewSet):
    """The tenant's attendant queues, with members, hours, holidays and messages."""

    queryset = Queue.objects.prefetch_related("members", "hours", "holidays")
    serializer_class = QueueSerializer
    lookup_value_regex = r"\d+"
    filter_backends: list = []
    pagination_class = None

    def perform_create(self, serializer):
        serializer.instance = queues.queue_save(
            tenant_id=self.require_tenant().pk, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = queues.queue_save(
            tenant_id=serializer.instance.tenant_id,
            data=serializer.validated_data,
            instance=serializer.instance,
        )

    def perform_destroy(self, instance):
        queues.queue_delete(queue=instance)


class QuickReplyViewSet(TenantScopedViewSet):
    """Quick replies ("/" shortcuts): `?queue=<id>` gives a queue's and the general ones."""

    queryset = QuickReply.objects.select_related("queue")
    serializer_class = QuickReplySerializer
    lookup_value_regex = r"\d+"
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[OpenApiParameter("queue", int, description=_("id da fila"))])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        replies = super().get_queryset()
        queue = self.request.query_params.get("queue")
        if queue and queue.isdigit():
            from django.db.models import Q

            replies = replies.filter(Q(queue_id=int(queue)) | Q(queue__isnull=True))
        return replies.order_by("shortcut", "pk")

    def perform_create(self, serializer):
        serializer.instance = queues.quick_reply_save(
            tenant_id=self.require_tenant().pk, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = queues.quick_reply_save(
            tenant_id=serializer.instance.tenant_id,
            data=serializer.validated_data,
            instance=serializer.instance,
        )


__all__ = [
    "ConversationNoteViewSet",
    "ConversationActionViewSet",
    "QueueViewSet",
    "QuickReplyViewSet",
    "REPLY_SCHEMA",
    "TicketSerializer",
    "reply_create",
    "visible_conversations",
]
