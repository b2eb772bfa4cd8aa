"""REST views of the attendant inbox: thin, tenant-scoped; the services decide.

Mounted under /api/chatbots/conversations/ (its notes; the conversation actions and the
replies, which show chatbots' serializers, are in chatbots.api.inbox) and /api/inbox/
(queues and quick replies). A conversation an
agent may not see (another queue's, another tenant's) is not found (404). Every member
works conversations (reply, assign, close, notes); owners and admins configure queues and
quick replies; every member reads them.
"""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from billing.api.permissions import MEMBERS, request_role
from billing.api.viewsets import TenantScopedViewSet
from billing.models import Membership
from chatbots.models import Conversation
from inbox import queues, selectors, services
from inbox.api.serializers import (
    NoteSerializer,
    QueueSerializer,
    QuickReplySerializer,
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
    "ERROR_BODY",
    "ConversationNoteViewSet",
    "QueueViewSet",
    "QuickReplyViewSet",
    "inbox_error",
    "request_membership",
    "visible_conversations",
]
