"""The staff app's WebSocket: live events of the inbox and the internal chat.

`/ws/atendimento/` (config/asgi.py): the session cookie says who it is (Channels'
AuthMiddlewareStack) and staff.tenancy for which tenant. The socket joins the groups of that
membership; publishers send `{"type": "inbox.event", "kind": ..., "data": ...}` to a group
and `inbox_event` forwards `{"kind": ..., "data": ...}` to the browser as JSON.

Client → server: `{"action": "watch", "conversation": id}` (join that conversation's group
once the membership may see it), `{"action": "presence", "status": "online"|"away"}`,
`{"action": "ping"}` (answered `{"kind": "pong"}`).
Close codes: 4401 not logged in, 4403 not a member of an active tenant.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.cache import cache

from chatbots.models import Conversation
from inbox import live
from inbox import selectors as inbox_selectors
from inbox import services as inbox_services
from staff import tenancy

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
PRESENCES = ("online", "away")
# Open sockets per person, so closing one of two tabs does not show them offline. Kept in
# the shared cache (Redis, or the embedded file cache) because the sockets of one person
# may be held by different web processes; the day-long expiry forgets a count left by a
# killed process.
SOCKETS_KEY = "staff:sockets:t{tenant}:u{user}"
SOCKETS_TTL = 24 * 3600


def _watchable(membership, conversation_id) -> bool:
    conversation = Conversation.objects.filter(
        pk=conversation_id, tenant_id=membership.tenant_id
    ).first()
    return conversation is not None and inbox_selectors.membership_can_see(membership, conversation)


def _sockets_add(membership, delta: int) -> int:
    key = SOCKETS_KEY.format(tenant=membership.tenant_id, user=membership.user_id)
    if cache.add(key, max(delta, 0), SOCKETS_TTL):
        return max(delta, 0)
    try:
        value = cache.incr(key, delta)
    except ValueError:  # expired between the two calls
        cache.set(key, max(delta, 0), SOCKETS_TTL)
        return max(delta, 0)
    if value < 0:
        cache.set(key, 0, SOCKETS_TTL)
        return 0
    cache.touch(key, SOCKETS_TTL)
    return value


def _presence(membership, status: str) -> None:
    inbox_services.presence_set(membership.user, membership.tenant_id, status)


def _socket_opened(membership) -> None:
    """Counted and online in one call: the consumer's database calls run one at a time
    in submission order, so a tab's close racing another tab's open cannot end offline."""
    _sockets_add(membership, 1)
    _presence(membership, "online")


def _socket_closed(membership) -> bool:
    """Uncounted; True when it was the person's last socket."""
    return _sockets_add(membership, -1) == 0


def _offline_if_still_gone(membership) -> bool:
    """Offline, unless a socket of the person opened since; True when set offline."""
    key = SOCKETS_KEY.format(tenant=membership.tenant_id, user=membership.user_id)
    if (cache.get(key) or 0) > 0:
        return False
    _presence(membership, "offline")
    return True


# The offline checks waiting out their grace (a reference keeps a task from being
# collected before it ran: https://docs.python.org/3/library/asyncio-task.html#creating-tasks).
_pending_offline: set[asyncio.Task] = set()


class InboxConsumer(AsyncJsonWebsocketConsumer):
    membership = None
    joined: list[str]
    recent: live.Recent
    watching: str | None = None

    async def connect(self):
        self.joined = []
        self.recent = live.Recent()
        user = self.scope.get("user")
        # Accepted, then closed with a code: a refused handshake reaches the page as a bare
        # 1006, and the page must tell "log in again" from "the network dropped".
        if not getattr(user, "is_authenticated", False):
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        membership = await database_sync_to_async(tenancy.staff_membership)(
            user, self.scope.get("session")
        )
        if membership is None:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.membership = membership
        for group in await database_sync_to_async(live.groups_for)(membership):
            await self._join(group)
        await self.accept()
        await database_sync_to_async(_socket_opened)(membership)
        await self._tell_queues("online")

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.membership is not None:
            try:
                if await database_sync_to_async(_socket_closed)(self.membership):
                    task = asyncio.get_running_loop().create_task(
                        self._offline_after_grace(self._queue_groups())
                    )
                    _pending_offline.add(task)
                    task.add_done_callback(_pending_offline.discard)
            except Exception:  # the person or tenant is gone, the database is down
                logger.warning("presence not recorded at disconnect", exc_info=True)
        self.joined = []

    async def _offline_after_grace(self, queue_groups: list[str]) -> None:
        """A page change closes this tab's socket and the next page opens one a moment
        later: the person goes offline only if none came back within the grace."""
        await asyncio.sleep(settings.STAFF_OFFLINE_GRACE_SECONDS)
        try:
            if await database_sync_to_async(_offline_if_still_gone)(self.membership):
                await self._tell(queue_groups, "offline")
        except Exception:
            logger.warning("presence not recorded after disconnect", exc_info=True)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or self.membership is None:
            return
        action = content.get("action")
        if action == "ping":
            await self.send_json({"kind": "pong", "data": {}})
        elif action == "watch":
            await self._watch(content.get("conversation"))
        elif action == "presence" and content.get("status") in PRESENCES:
            await self._set_presence(content["status"])

    async def dispatch(self, message):
        # Channels closes stale database connections before every handler, a thread hop
        # each time; a live event reads no database and comes ten times per customer message
        # (a queue's agents), so it goes straight to its handler.
        if message.get("type") == live.EVENT_TYPE:
            await self.inbox_event(message)
            return
        await super().dispatch(message)

    async def inbox_event(self, event):
        if not self.recent.first_time(event):  # the same event through another group
            return
        await self.send_json({"kind": event["kind"], "data": event["data"]})

    async def _join(self, group: str) -> None:
        if group not in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)

    async def _watch(self, conversation_id) -> None:
        if not isinstance(conversation_id, int):
            return
        if not await database_sync_to_async(_watchable)(self.membership, conversation_id):
            return
        group = live.group_conversation(self.membership.tenant_id, conversation_id)
        if self.watching and self.watching != group:
            await self.channel_layer.group_discard(self.watching, self.channel_name)
            self.joined.remove(self.watching)
        self.watching = group
        await self._join(group)

    async def _set_presence(self, status: str) -> None:
        """Recorded by the inbox (automatic assignment reads it; it tells the admins), and
        told to the colleagues of this person's queues."""
        await database_sync_to_async(_presence)(self.membership, status)
        await self._tell_queues(status)

    def _queue_groups(self) -> list[str]:
        prefix = f"inbox.t{self.membership.tenant_id}.q"
        return [group for group in self.joined if group.startswith(prefix)]

    async def _tell_queues(self, status: str) -> None:
        await self._tell(self._queue_groups(), status)

    async def _tell(self, groups: list[str], status: str) -> None:
        event = live.event(live.PRESENCE, {"user": self.membership.user_id, "status": status})
        for group in groups:
            await self.channel_layer.group_send(group, event)
