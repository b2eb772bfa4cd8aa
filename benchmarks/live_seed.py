"""What the live benchmark (benchmarks/live.py) runs against: its options (the shape:
clients, rates, tenants, queues, conversations), the tenants it seeds (Meta bots, queues,
agents logged in by a session row each, conversations whose ticket is open and taken) and
the webhooks it sends to them, each carrying a token its clients look for."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from benchmarks import live_clients, load, seed
from benchmarks.live_clients import ClientSpec, Posted

LIVE_PNID_BASE = 300_000_000


@dataclass
class LiveOptions:
    clients: int = 500
    rates: tuple[float, ...] = (80.0,)  # a run per offered rate, on the same stack
    duration: float = 60.0
    tenants: int = 25
    queues: int = 2  # per tenant
    conversations: int = 20  # per queue, each with an open ticket
    grace: float = 30.0  # seconds after the last webhook for the last events
    connect_rate: float = 100.0  # new sockets per second while connecting
    quick: bool = False
    profile: bool = False
    # Webhooks on their own gunicorn (gthread, config.wsgi) and the sockets on another
    # (uvicorn worker, config.asgi), as nginx can route /ws/ apart; default: one server.
    split: bool = False
    output: str = ""

    @property
    def agents_per_queue(self) -> int:
        return max(1, math.ceil(self.clients / (self.tenants * self.queues)))


@dataclass
class Conversation:
    pnid: str
    sender: str
    queue: str  # the queue's label, f"t{tenant}q{queue}"


def seed_live(opts: LiveOptions) -> tuple[list[ClientSpec], list[Conversation]]:
    """Tenants, their Meta bots, queues, agents with a session each, and conversations whose
    ticket is open and taken in a queue (so the bot stays quiet and every customer message
    is published to the queue). Returns the clients (by queue) and the conversations."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.utils import timezone

    from billing.models import Membership, Plan
    from billing.services import tenant_create
    from chatbots import bots
    from chatbots.models import Conversation as ConversationRow
    from clientes.services import cliente_upsert_from_whatsapp
    from inbox import services as inbox
    from inbox.models import Queue

    User = get_user_model()
    store = import_module(settings.SESSION_ENGINE).SessionStore
    # The backend a password login ends with (axes' backend only guards, it loads no user).
    backend = next(
        b for b in settings.AUTHENTICATION_BACKENDS if b.endswith("backends.ModelBackend")
    )
    per_queue = opts.agents_per_queue
    plan, _ = Plan.objects.get_or_create(
        name="Benchmark live",
        defaults={
            "max_messages_per_month": 0,
            "max_chatbots": 10,
            "max_staff": per_queue * opts.queues + 5,
        },
    )
    clients: list[ClientSpec] = []
    conversations: list[Conversation] = []
    now = timezone.now()
    for t in range(opts.tenants):
        tenant = tenant_create(slug=f"live{t:03d}", name=f"Loja {t}", plan_name=plan.name).tenant
        pnid = str(LIVE_PNID_BASE + t)
        bot = bots.chatbot_create(
            tenant=tenant,
            name="Atendimento",
            provider="meta",
            phone_number_id=pnid,
            access_token=seed.ACCESS_TOKEN,
            app_secret=seed.APP_SECRET,
            messages_per_second=1000,
        )
        for q in range(opts.queues):
            label = f"t{t}q{q}"
            queue = Queue.objects.create(tenant=tenant, name=f"Fila {q}", slug=f"fila-{q}")
            # Unusable passwords: hashing 500 real ones would take minutes; the sockets log
            # in by session, as a browser that has logged in does.
            users = []
            for a in range(per_queue):
                user = User(username=f"agente.{label}.{a}@bench.invalid", is_staff=True)
                user.set_unusable_password()
                users.append(user)
            User.objects.bulk_create(users)
            users = list(User.objects.filter(username__startswith=f"agente.{label}."))
            Membership.objects.bulk_create(
                [Membership(user=u, tenant=tenant, role=Membership.Role.AGENT) for u in users]
            )
            queue.members.add(*users)
            for user in users:
                session = store()
                session[SESSION_KEY] = str(user.pk)
                session[BACKEND_SESSION_KEY] = backend
                session[HASH_SESSION_KEY] = user.get_session_auth_hash()
                session.create()
                cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
                clients.append(ClientSpec(queue=label, headers={"Cookie": cookie}))
            for c in range(opts.conversations):
                sender = f"55119{t % 100:02d}{q % 10}{c:05d}"
                cliente = cliente_upsert_from_whatsapp(tenant=tenant, wa_id=sender)
                row = ConversationRow.objects.create(
                    tenant=tenant, chatbot=bot, cliente=cliente, last_customer_message_at=now
                )
                ticket = inbox.ticket_open(row, queue)
                inbox.ticket_take(ticket, users[c % len(users)])
                conversations.append(Conversation(pnid=pnid, sender=sender, queue=label))
    return clients[: opts.clients], conversations


def webhooks(conversations: list[Conversation], *, tag: str, count: int) -> list[Posted]:
    """`count` customer messages, round robin over the conversations (each customer's
    seconds apart, with increasing timestamps as a phone's), each carrying its token."""
    t0 = int(time.time())
    out = []
    for i in range(count):
        round_no, c = divmod(i, len(conversations))
        conv = conversations[c]
        token = live_clients.token_for(tag, i)
        payload = load.text_payload(
            conv.pnid,
            sender=conv.sender,
            body=f"Oi, alguém pode me ajudar? {token}",
            mid=f"wamid.LIVE.{tag}.{i:07d}",
            ts=t0 + round_no,
        )
        item = load.item(payload, seed.APP_SECRET, key=conv.sender, seq=i)
        out.append(Posted(item=item, queue=conv.queue, token=token))
    return out
