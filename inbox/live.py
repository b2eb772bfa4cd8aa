"""Live events of the inbox: what the staff app's sockets receive.

`publish(tenant_id, kind, data, ...)` sends one event, once the current transaction commits,
to the channel-layer groups of the people who should see it: the tenant's owners and admins
(`inbox.t{tenant}.all`), the members of the conversation's queue (`.q{queue}`), single
people (`.u{user}`) and the sockets watching the conversation (`.c{conversation}`). The
consumer (the staff app's) receives `{"type": "inbox.event", "kind": ..., "data": ...,
"id": ...}` in its `inbox_event` method.

One socket is often in several of those groups (the agent who took a ticket is in its
queue's group and their own; an admin in the tenant's and their queues'), and the layer
delivers each group's copy. Every event carries an `id`, and the consumer drops the copies
it has already seen (`Recent`), so a person gets each event once.

Publishing is best effort: with no channel layer configured (Django Channels not
installed, or no CHANNEL_LAYERS) it does nothing, and a failing layer (Redis down) is
logged, never raised, so a webhook or a send never fails because of it. Staff pages reload
their lists from the database, so a lost event costs a refresh, not data.

Group names and kinds are a contract with the consumer: see the names below.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Coroutine, Iterable
from functools import partial
from typing import Any

from django.db import transaction

from billing.models import Membership

logger = logging.getLogger(__name__)

EVENT_TYPE = "inbox.event"  # -> the consumer's `inbox_event` method (Channels' naming)

# Kinds of events (data keys in the module docstring of each publisher, inbox.events).
MESSAGE = "message"
STATUS = "status"
TICKET = "ticket"
PRESENCE = "presence"
CHAT = "chat"


def group_all(tenant_id: int) -> str:
    return f"inbox.t{tenant_id}.all"


def group_queue(tenant_id: int, queue_id: int) -> str:
    return f"inbox.t{tenant_id}.q{queue_id}"


def group_user(tenant_id: int, user_id: int) -> str:
    return f"inbox.t{tenant_id}.u{user_id}"


def group_conversation(tenant_id: int, conversation_id: int) -> str:
    return f"inbox.t{tenant_id}.c{conversation_id}"


def groups_for(membership: Membership) -> list[str]:
    """The groups a staff member's socket joins: their own, every queue they belong to, and
    the whole tenant for owners and admins. (A conversation's group is joined on demand,
    after `inbox.selectors.membership_can_see`.)"""
    from inbox.models import Queue

    tenant_id, user_id = membership.tenant_id, membership.user_id
    groups = [group_user(tenant_id, user_id)]
    if membership.role in (Membership.Role.OWNER, Membership.Role.ADMIN):
        groups.append(group_all(tenant_id))
    queue_ids = Queue.objects.filter(tenant_id=tenant_id, members=user_id).values_list(
        "pk", flat=True
    )
    groups.extend(group_queue(tenant_id, q) for q in queue_ids)
    return groups


def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The layer message for one event: the same id in every group it is sent to."""
    return {"type": EVENT_TYPE, "kind": kind, "data": data, "id": uuid.uuid4().hex}


class Recent:
    """The ids of the events one socket received lately. The copies of one event are sent
    one group after the other (`_send`), so they arrive close together: a few hundred ids
    are plenty."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, message: dict[str, Any]) -> bool:
        event_id = message.get("id")
        if not event_id:  # sent by hand, without an id: always delivered
            return True
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


def publish(
    tenant_id: int,
    kind: str,
    data: dict[str, Any],
    *,
    queue_id: int | None = None,
    user_ids: Iterable[int] = (),
    conversation_id: int | None = None,
    queue_ids: Iterable[int] = (),
) -> None:
    """Send one event to the tenant's admins, and to the queue(s), people and conversation
    named, after the current transaction commits (at once outside one). Never raises."""
    groups = [group_all(tenant_id)]
    queues = [queue_id, *queue_ids] if queue_id is not None else list(queue_ids)
    groups.extend(group_queue(tenant_id, q) for q in dict.fromkeys(queues))
    groups.extend(group_user(tenant_id, u) for u in dict.fromkeys(user_ids) if u is not None)
    if conversation_id is not None:
        groups.append(group_conversation(tenant_id, conversation_id))
    message = event(kind, data)
    try:
        transaction.on_commit(partial(_send, groups, message))
    except Exception:  # no usable connection state: still never the caller's problem
        logger.exception("inbox live event not scheduled", extra={"kind": kind})


def _layer():
    try:
        from channels.layers import get_channel_layer
    except ImportError:  # the staff app's transport is not installed: nothing listens
        return None
    try:
        return get_channel_layer()
    except Exception:
        logger.exception("inbox channel layer could not be built")
        return None


def _send(groups: list[str], message: dict[str, Any]) -> None:
    layer = _layer()
    if layer is None:
        return

    async def send_all() -> None:
        for group in groups:
            await layer.group_send(group, message)

    try:
        _publisher_loop().run(send_all(), timeout=PUBLISH_TIMEOUT)
    except Exception:  # Redis down, a full channel: staff pages catch up on reload
        logger.warning(
            "inbox live event not delivered", extra={"kind": message["kind"]}, exc_info=True
        )


# A publish waits at most this long for the layer, so a stuck Redis delays a task by this
# much and no more.
PUBLISH_TIMEOUT = 5.0


class _PublisherLoop:
    """One event loop in a daemon thread of this process, where every publish runs.

    `async_to_sync` would build a new event loop (and a new thread) per call, and the Redis
    layer keeps its connection per loop, so each event would open a Redis connection: ~2.8 ms of CPU per event against ~0.7 ms on a loop
    that stays (measured on the 2-core development machine, 200 events of three groups). Created on first use and again after a fork (Celery's prefork children), since
    a thread does not survive one."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="inbox-live", daemon=True).start()

    def run(self, coroutine: Coroutine[Any, Any, None], *, timeout: float) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise


_loop: _PublisherLoop | None = None
_loop_lock = threading.Lock()


def _publisher_loop() -> _PublisherLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.pid != os.getpid():
            _loop = _PublisherLoop()
        return _loop
