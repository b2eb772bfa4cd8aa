"""The internal chat: rooms (one per queue, one per pair of people) and their messages.

A queue's room is open to the queue's members and to the tenant's owners and admins; a
direct room to its two people. Messages are kept in the database and published live
(inbox.live, kind `chat`: room, message, author, author_name, text, created_at) to the
queue's group or to the two people's groups; the page reloads the room on open, so an event
lost on the way costs nothing.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from billing.models import Membership
from inbox import live
from inbox.models import Queue
from staff.models import ChatMessage, ChatRoom

logger = logging.getLogger(__name__)

MAX_TEXT = 4000  # a chat line, not a document
HISTORY = 200  # messages a room shows when opened


class ChatError(Exception):
    """A chat message that cannot be posted; the message is pt-BR."""


def _is_manager(membership: Membership) -> bool:
    return membership.role in (Membership.Role.OWNER, Membership.Role.ADMIN)


def chat_queue_room(queue: Queue) -> ChatRoom:
    room = ChatRoom.objects.filter(queue=queue).first()
    if room is not None:
        return room
    try:
        with transaction.atomic():
            return ChatRoom.objects.create(
                tenant_id=queue.tenant_id, kind=ChatRoom.Kind.QUEUE, queue=queue
            )
    except IntegrityError:  # created meanwhile
        return ChatRoom.objects.get(queue=queue)


def chat_direct_room(membership: Membership, other_user_id: int) -> ChatRoom:
    """The room of `membership`'s user and another member of the same tenant."""
    if other_user_id == membership.user_id:
        raise ChatError(_("Escolha outra pessoa da equipe."))
    if not Membership.objects.filter(
        tenant_id=membership.tenant_id, user_id=other_user_id
    ).exists():
        raise ChatError(_("Essa pessoa não faz parte da equipe desta empresa."))
    a, b = sorted((membership.user_id, other_user_id))
    room = ChatRoom.objects.filter(
        tenant_id=membership.tenant_id, kind=ChatRoom.Kind.DIRECT, user_a_id=a, user_b_id=b
    ).first()
    if room is not None:
        return room
    try:
        with transaction.atomic():
            return ChatRoom.objects.create(
                tenant_id=membership.tenant_id, kind=ChatRoom.Kind.DIRECT, user_a_id=a, user_b_id=b
            )
    except IntegrityError:
        return ChatRoom.objects.get(
            tenant_id=membership.tenant_id, kind=ChatRoom.Kind.DIRECT, user_a_id=a, user_b_id=b
        )


def chat_can_use(membership: Membership, room: ChatRoom) -> bool:
    if room.tenant_id != membership.tenant_id:
        return False
    if room.kind == ChatRoom.Kind.DIRECT:
        return membership.user_id in (room.user_a_id, room.user_b_id)
    if _is_manager(membership):
        return True
    return Queue.objects.filter(pk=room.queue_id, members=membership.user_id).exists()


def chat_queue_rooms_for(membership: Membership) -> list[ChatRoom]:
    """The queue rooms `membership` may use (created on first need), by queue name."""
    queues = Queue.objects.filter(tenant_id=membership.tenant_id).order_by("name")
    if not _is_manager(membership):
        queues = queues.filter(members=membership.user_id)
    return [chat_queue_room(q) for q in queues]


def chat_messages(room: ChatRoom) -> list[ChatMessage]:
    """The room's latest messages, oldest first."""
    recent = (
        ChatMessage.objects.filter(room=room).select_related("author").order_by("-id")[:HISTORY]
    )
    return list(reversed(recent))


def chat_messages_of(room: ChatRoom) -> QuerySet[ChatMessage]:
    return ChatMessage.objects.filter(room=room)


def author_name(user) -> str:
    if user is None:
        return _("(pessoa removida)")
    return user.get_full_name() or user.get_username()


def chat_post(membership: Membership, room: ChatRoom, text: str) -> ChatMessage:
    text = (text or "").strip()
    if not text:
        raise ChatError(_("A mensagem está vazia."))
    if len(text) > MAX_TEXT:
        raise ChatError(_("Mensagem longa demais (até %(n)d caracteres).") % {"n": MAX_TEXT})
    if not chat_can_use(membership, room):
        raise ChatError(_("Você não participa desta sala."))
    with transaction.atomic():
        message = ChatMessage.objects.create(
            tenant_id=room.tenant_id, room=room, author_id=membership.user_id, text=text
        )
        data = {
            "room": room.pk,
            "message": message.pk,
            "author": membership.user_id,
            "author_name": author_name(membership.user),
            "text": text,
            "created_at": message.created_at.isoformat(),
        }
        if room.kind == ChatRoom.Kind.QUEUE:
            live.publish(room.tenant_id, live.CHAT, data, queue_id=room.queue_id)
        else:
            groups = [live.group_user(room.tenant_id, u) for u in (room.user_a_id, room.user_b_id)]
            transaction.on_commit(partial(_send_private, groups, data))
    return message


def _send_private(groups: list[str], data: dict) -> None:
    """A direct message goes to its two people only: inbox.live.publish always adds the
    tenant's admins' group, which must not read other people's direct messages. Best
    effort, like publish(): never raises into the request."""
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": live.EVENT_TYPE, "kind": live.CHAT, "data": data}

        async def send_all() -> None:
            for group in groups:
                await layer.group_send(group, message)

        async_to_sync(send_all)()
    except Exception:
        logger.warning("direct chat message not delivered live", exc_info=True)
