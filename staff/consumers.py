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

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from staff import tenancy

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def _groups_for(membership) -> list[str]:
    tenant = membership.tenant_id
    groups = [f"inbox.t{tenant}.u{membership.user_id}"]
    if membership.role in ("owner", "admin"):
        groups.append(f"inbox.t{tenant}.all")
    return groups


class InboxConsumer(AsyncJsonWebsocketConsumer):
    membership = None
    joined: list[str]

    async def connect(self):
        self.joined = []
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
        for group in await database_sync_to_async(_groups_for)(membership):
            await self._join(group)
        await self.accept()

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or self.membership is None:
            return
        action = content.get("action")
        if action == "ping":
            await self.send_json({"kind": "pong", "data": {}})

    async def inbox_event(self, event):
        await self.send_json({"kind": event["kind"], "data": event["data"]})

    async def _join(self, group: str) -> None:
        if group not in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
