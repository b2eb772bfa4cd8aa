"""The internal chat's pages (/atendimento/chat/): the rooms, a room's messages, posting."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from staff import chat, selectors
from staff.access import staff_required
from staff.forms import ChatForm
from staff.models import ChatRoom


def _room(request, pk: int) -> ChatRoom:
    room = get_object_or_404(
        ChatRoom.objects.select_related("queue", "user_a", "user_b"),
        pk=pk,
        tenant_id=request.membership.tenant_id,
    )
    if not chat.chat_can_use(request.membership, room):
        raise Http404
    return room


def _room_title(room: ChatRoom, me_id: int) -> str:
    if room.kind == ChatRoom.Kind.QUEUE:
        return f"# {room.queue.name}"
    other = room.user_b if room.user_a_id == me_id else room.user_a
    return chat.author_name(other)


@staff_required
def chat_home(request):
    rooms = chat.chat_queue_rooms_for(request.membership)
    if rooms:
        return redirect("staff:chat-room", pk=rooms[0].pk)
    return render(request, "staff/chat.html", _chat_context(request, None))


def _chat_context(request, room: ChatRoom | None) -> dict:
    membership = request.membership
    return {
        "section": "chat",
        "rooms": [
            {"room": r, "title": _room_title(r, membership.user_id)}
            for r in chat.chat_queue_rooms_for(membership)
        ],
        "team": [m for m in selectors.team(membership) if not m["is_me"]],
        "room": room,
        "room_title": _room_title(room, membership.user_id) if room else "",
        "chat_messages": chat.chat_messages(room) if room else [],
        "form": ChatForm(),
    }


@staff_required
def chat_room(request, pk: int):
    room = _room(request, pk)
    if request.headers.get("HX-Request"):
        return render(request, "staff/_chat_messages.html", _chat_context(request, room))
    return render(request, "staff/chat.html", _chat_context(request, room))


@staff_required
def chat_direct(request, user_id: int):
    try:
        room = chat.chat_direct_room(request.membership, user_id)
    except chat.ChatError as error:
        messages.error(request, str(error))
        return redirect("staff:chat")
    return redirect("staff:chat-room", pk=room.pk)


@require_POST
@staff_required
def chat_send(request, pk: int):
    room = _room(request, pk)
    form = ChatForm(request.POST)
    if form.is_valid():
        try:
            chat.chat_post(request.membership, room, form.cleaned_data["text"])
        except chat.ChatError as error:
            messages.error(request, str(error))
    if request.headers.get("HX-Request"):
        return render(request, "staff/_chat_messages.html", _chat_context(request, room))
    return redirect("staff:chat-room", pk=room.pk)
