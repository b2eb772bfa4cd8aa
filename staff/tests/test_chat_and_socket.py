"""The internal chat and the socket's rules: rooms kept in the database, direct messages to
their two people only, a conversation watched only by who may see it, presence."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from billing.models import Membership
from inbox import live
from inbox.models import AgentPresence, Queue
from staff import chat
from staff.models import ChatMessage
from tests.factories import ConversationFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(tenant):
    suporte = Queue.objects.create(tenant=tenant, name="Suporte", slug="suporte")
    ana = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT)
    bia = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT)
    admin = MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN)
    suporte.members.add(ana.user, bia.user)
    return {"suporte": suporte, "ana": ana, "bia": bia, "admin": admin}


def _headers(_client, user):
    """Its own session: logging a second user into one test client ends the first's."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return [
        (b"host", b"localhost"),
        (b"origin", b"http://localhost"),
        (b"cookie", f"{name}={client.cookies[name].value}".encode()),
    ]


def _socket(headers):
    from config.asgi import application

    return WebsocketCommunicator(application, "/ws/atendimento/", headers=headers)


async def _events(socket, timeout=1.0) -> list[dict]:
    """Everything the socket got until it was quiet for `timeout` (presence included)."""
    got = []
    while not await socket.receive_nothing(timeout=timeout):
        got.append(await socket.receive_json_from())
    return got


def test_a_queue_room_message_is_kept_and_reaches_the_queue_live(client, people):
    bia_headers = _headers(client, people["bia"].user)

    async def scenario():
        bia = _socket(bia_headers)
        assert (await bia.connect())[0]
        await _events(bia, 0.3)
        room = await sync_to_async(chat.chat_queue_room)(people["suporte"])
        await sync_to_async(chat.chat_post)(people["ana"], room, "Alguém livre?")
        got = await _events(bia)
        await bia.disconnect()
        return room, got

    room, got = async_to_sync(scenario)()
    chats = [e["data"] for e in got if e["kind"] == "chat"]
    assert [(c["room"], c["text"]) for c in chats] == [(room.pk, "Alguém livre?")]
    assert ChatMessage.objects.get().text == "Alguém livre?"


def test_a_direct_message_reaches_its_two_people_and_not_the_admins(client, people):
    bia_headers = _headers(client, people["bia"].user)
    admin_headers = _headers(client, people["admin"].user)

    async def scenario():
        bia, admin = _socket(bia_headers), _socket(admin_headers)
        assert (await bia.connect())[0] and (await admin.connect())[0]
        await _events(bia, 0.3)
        await _events(admin, 0.3)
        room = await sync_to_async(chat.chat_direct_room)(people["ana"], people["bia"].user_id)
        await sync_to_async(chat.chat_post)(people["ana"], room, "Só entre nós")
        to_bia, to_admin = await _events(bia), await _events(admin)
        await bia.disconnect()
        await admin.disconnect()
        return to_bia, to_admin

    to_bia, to_admin = async_to_sync(scenario)()
    assert [e["data"]["text"] for e in to_bia if e["kind"] == "chat"] == ["Só entre nós"]
    assert [e for e in to_admin if e["kind"] == "chat"] == []


def test_a_room_is_closed_to_whoever_is_not_in_it(client, tenant, people):
    outsider = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT)
    room = chat.chat_queue_room(people["suporte"])
    direct = chat.chat_direct_room(people["ana"], people["bia"].user_id)
    client.force_login(outsider.user)

    assert client.get(f"/atendimento/chat/{room.pk}/").status_code == 404
    assert client.get(f"/atendimento/chat/{direct.pk}/").status_code == 404
    assert client.post(f"/atendimento/chat/{room.pk}/enviar/", {"text": "x"}).status_code == 404
    with pytest.raises(chat.ChatError):
        chat.chat_post(outsider, room, "x")
    # The admin may read the queue's room, never the direct one.
    client.force_login(people["admin"].user)
    assert client.get(f"/atendimento/chat/{room.pk}/").status_code == 200
    assert client.get(f"/atendimento/chat/{direct.pk}/").status_code == 404


def test_the_chat_page_posts_and_shows_the_history(client, people):
    client.force_login(people["ana"].user)
    room = chat.chat_queue_room(people["suporte"])

    client.post(f"/atendimento/chat/{room.pk}/enviar/", {"text": "Bom dia, equipe"})

    page = client.get("/atendimento/chat/", follow=True).content.decode()
    assert "# Suporte" in page and "Bom dia, equipe" in page


def test_a_conversation_is_watched_only_by_who_may_see_it(client, tenant, people):
    outsider = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT)
    conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    ana_headers = _headers(client, people["ana"].user)
    outsider_headers = _headers(client, outsider.user)
    # Ana sees it through her queue's ticket; the outsider is in no queue.
    from inbox import services

    services.ticket_open(conversation, people["suporte"])
    group = live.group_conversation(tenant.pk, conversation.pk)

    async def scenario():
        ana, other = _socket(ana_headers), _socket(outsider_headers)
        assert (await ana.connect())[0] and (await other.connect())[0]
        for s in (ana, other):
            await s.send_json_to({"action": "watch", "conversation": conversation.pk})
            await s.send_json_to({"action": "ping"})  # answered after the watch is done
        await _events(ana, 0.3)
        await _events(other, 0.3)
        from channels.layers import get_channel_layer

        await get_channel_layer().group_send(
            group, {"type": "inbox.event", "kind": "note", "data": {"note": 1}}
        )
        got = await _events(ana), await _events(other)
        await ana.disconnect()
        await other.disconnect()
        return got

    to_ana, to_outsider = async_to_sync(scenario)()
    assert [e["kind"] for e in to_ana] == ["note"]
    assert to_outsider == []


def test_presence_follows_the_sockets_and_reaches_the_colleagues(client, people, settings):
    settings.STAFF_OFFLINE_GRACE_SECONDS = 0.2
    ana_headers = _headers(client, people["ana"].user)
    bia_headers = _headers(client, people["bia"].user)

    def status_of(membership):
        return (
            AgentPresence.objects.filter(user=membership.user, tenant=membership.tenant)
            .values_list("status", flat=True)
            .first()
        )

    async def scenario():
        bia = _socket(bia_headers)
        assert (await bia.connect())[0]
        await _events(bia, 0.3)
        first, second = _socket(ana_headers), _socket(ana_headers)
        await first.connect()
        await second.connect()
        await first.send_json_to({"action": "presence", "status": "away"})
        await first.send_json_to({"action": "ping"})
        while (await first.receive_json_from())["kind"] != "pong":
            pass  # presence events of the queue come first
        away = await sync_to_async(status_of)(people["ana"])
        await first.disconnect()  # another tab is still open
        still = await sync_to_async(status_of)(people["ana"])
        await second.disconnect()
        during_grace = await sync_to_async(status_of)(people["ana"])
        await asyncio.sleep(0.5)
        gone = await sync_to_async(status_of)(people["ana"])
        seen = [e["data"]["status"] for e in await _events(bia) if e["kind"] == "presence"]
        await bia.disconnect()
        return away, still, during_grace, gone, seen

    away, still, during_grace, gone, seen = async_to_sync(scenario)()
    assert (away, still, during_grace, gone) == ("away", "away", "away", "offline")
    assert seen[0] == "online" and seen[-1] == "offline" and "away" in seen


def test_the_agent_who_took_a_ticket_gets_each_of_its_messages_once(client, tenant, people):
    """Ana is in the queue's group, her own and (watching it) the conversation's: the event
    is sent to all three, and her socket shows it once."""
    from chatbots.models import Message
    from inbox import events, services

    conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    ticket = services.ticket_open(conversation, people["suporte"])
    services.ticket_take(ticket, people["ana"].user)
    conversation.refresh_from_db()
    ana_headers = _headers(client, people["ana"].user)
    admin_headers = _headers(client, people["admin"].user)

    async def scenario():
        ana, admin = _socket(ana_headers), _socket(admin_headers)
        assert (await ana.connect())[0] and (await admin.connect())[0]
        await ana.send_json_to({"action": "watch", "conversation": conversation.pk})
        await ana.send_json_to({"action": "ping"})
        await _events(ana, 0.3)
        await _events(admin, 0.3)

        def customer_writes():
            row = Message.objects.create(
                tenant=tenant, conversation=conversation, direction="in", text="Oi de novo"
            )
            events.messages_stored(conversation, [row])

        await sync_to_async(customer_writes)()
        got = await _events(ana), await _events(admin)
        await ana.disconnect()
        await admin.disconnect()
        return got

    to_ana, to_admin = async_to_sync(scenario)()
    assert [e["data"]["text"] for e in to_ana if e["kind"] == "message"] == ["Oi de novo"]
    assert [e["data"]["text"] for e in to_admin if e["kind"] == "message"] == ["Oi de novo"]


def test_a_page_change_never_shows_the_person_offline(client, people, settings):
    """Going from the list to a conversation closes one socket and opens the next a moment
    later: colleagues keep seeing the person online, before and after the grace."""
    settings.STAFF_OFFLINE_GRACE_SECONDS = 0.3
    ana_headers = _headers(client, people["ana"].user)
    bia_headers = _headers(client, people["bia"].user)

    async def scenario():
        bia = _socket(bia_headers)
        assert (await bia.connect())[0]
        await _events(bia, 0.2)
        page = _socket(ana_headers)
        await page.connect()
        await page.disconnect()
        next_page = _socket(ana_headers)
        await next_page.connect()
        await asyncio.sleep(0.6)  # the grace is over
        seen = [e["data"]["status"] for e in await _events(bia) if e["kind"] == "presence"]
        status = await sync_to_async(
            lambda: AgentPresence.objects.get(user=people["ana"].user).status
        )()
        await next_page.disconnect()
        await bia.disconnect()
        return seen, status

    seen, status = async_to_sync(scenario)()
    assert "offline" not in seen and seen[-1] == "online"
    assert status == "online"
