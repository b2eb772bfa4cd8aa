"""A customer talking to a bot, for tests: each message goes in through the bot's real
webhook, every task it queues runs inline, and what the bot answered comes back.

    def test_it_takes_an_order(chat_with, bot):
        chat = chat_with(bot)                   # Maria (CUSTOMER) writing to `bot`
        chat.text("oi")                         # -> what the bot sent in this turn
        chat.pick(f"cat:{pizzas.pk}", "Pizzas") # a list row
        chat.tap("pedido:finalizar", "Finalizar")  # a reply button
        assert "Total" in body_text(chat.last)

In: Meta webhook envelopes (tests/meta.py) for Meta and stub bots (the stub stands in for
Meta and shares its webhook), Whaticket and Evolution payloads (tests/fakes) for theirs,
each signed with the bot's own secret. Out: every JSON body the provider's fake on 127.0.0.1
received during the turn (to anyone, so a stray send shows); a stub bot's record of a send
is its outbound Message row (see chatbots/providers/stub.py), so for a stub bot the turn
returns the outbound rows it created. The driver reads models only, never the code behind
the webhook, so it does not move when that does.

Loaded for every test by `pytest_plugins` in the root conftest.py (the `chat_with` fixture).
"""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings

from chatbots.models import Chatbot, Conversation, Message
from tests import meta
from tests.fakes import evolution as evo
from tests.fakes import whaticket as wt

CUSTOMER = "5511987654321"
META_WEBHOOK = "/api/chatbots/webhook/"

# The fake each provider sends to, by fixture name; a stub bot sends nowhere.
FAKES = {"meta": "fake_graph", "whaticket": "fake_whaticket", "evolution": "fake_evolution"}

# What each webhook answers a payload it stored: Whaticket's queues it (202).
ACCEPTED = {"whaticket": 202}

_last_ts = 0


def next_timestamp() -> int:
    """A webhook timestamp: the clock's second, or one past the last one given.

    Meta's timestamps are whole seconds and the engine orders a contact's messages by them,
    so under a frozen clock every message would tie: each gets its own second instead. A
    clock moved far back (a test frozen in another year) starts again from it."""
    global _last_ts
    now = int(time.time())
    _last_ts = _last_ts + 1 if 0 <= _last_ts - now < 3600 else now
    return _last_ts


def body_text(body: dict) -> str:
    """The text a customer reads in a Meta send body (a template by its name)."""
    if body["type"] == "text":
        return body["text"]["body"]
    if body["type"] == "template":
        return "[template] " + body["template"]["name"]
    if body["type"] == "interactive":
        return body["interactive"]["body"]["text"]
    return ""


def rows(body: dict) -> list[dict]:
    """The rows of a Meta list message, all sections in order."""
    return [r for s in body["interactive"]["action"]["sections"] for r in s["rows"]]


def buttons(body: dict) -> list[tuple[str, str]]:
    """(id, title) of each reply button of a Meta button message."""
    return [
        (b["reply"]["id"], b["reply"]["title"]) for b in body["interactive"]["action"]["buttons"]
    ]


def conversation_of(bot: Chatbot, phone: str = CUSTOMER) -> Conversation:
    return Conversation.objects.get(chatbot=bot, cliente__telefone=phone)


def bot_said(bot: Chatbot, phone: str = CUSTOMER) -> list[Message]:
    """Every outbound message of the customer's conversation with `bot`, oldest first."""
    return list(
        Message.objects.filter(
            conversation__chatbot=bot,
            conversation__cliente__telefone=phone,
            direction=Message.Direction.OUT,
        ).order_by("id")
    )


def _secrets(bot: Chatbot) -> dict:
    return json.loads(bot.provider_secrets or "{}")


class Chat:
    """One customer writing to one bot.

    `capture` is pytest-django's `django_capture_on_commit_callbacks`: with it, each message
    runs what the webhook queues (with `celery_eager`, the processing and the sends) before
    the call returns; without it, the message is only posted and the caller runs the hooks.
    `fake` is the provider's fake (`fake_graph`, `fake_whaticket`, `fake_evolution`).
    """

    def __init__(
        self,
        client,
        bot: Chatbot,
        *,
        capture=None,
        fake=None,
        phone: str = CUSTOMER,
        name: str = "Maria",
    ) -> None:
        self.client, self.bot, self.capture, self.fake = client, bot, capture, fake
        self.phone, self.name = phone, name
        self.sent: list = []  # what the bot sent in the last turn
        self.response = None  # the webhook's answer to the last message

    # --- What the customer does ------------------------------------------------------------

    def text(self, body: str) -> list:
        """The customer types `body`."""
        provider = self.bot.provider
        if provider == "whaticket":
            return self.post(wt.text_payload(body, number=self.phone))
        if provider == "evolution":
            return self.post(
                evo.upsert(
                    instance=self.bot.provider_config.get("instance", "loja"),
                    sender=self.phone,
                    text=body,
                    name=self.name,
                    ts=next_timestamp(),
                )
            )
        return self.post(
            meta.text_message(
                self.bot.phone_number_id,
                sender=self.phone,
                body=body,
                name=self.name,
                ts=next_timestamp(),
            )
        )

    def tap(self, reply_id: str, title: str = "ok") -> list:
        """The customer taps the reply button `reply_id` (Whaticket relays its title)."""
        if self.bot.provider == "whaticket":
            return self.post(wt.button_payload(title, number=self.phone, button_id=reply_id))
        return self._reply(meta.button_reply, reply_id, title)

    def pick(self, reply_id: str, title: str = "ok") -> list:
        """The customer picks the row `reply_id` of a list message (Meta)."""
        return self._reply(meta.list_reply, reply_id, title)

    def _reply(self, build, reply_id: str, title: str) -> list:
        return self.post(
            build(
                self.bot.phone_number_id,
                sender=self.phone,
                reply_id=reply_id,
                title=title,
                ts=next_timestamp(),
            )
        )

    def post(self, payload: dict) -> list:
        """Deliver any webhook payload of the bot's provider; return the bot's answer."""
        before = self._mark()
        if self.capture is None:
            self.response = self._post(payload)
        else:
            with self.capture(execute=True):
                self.response = self._post(payload)
        expected = ACCEPTED.get(self.bot.provider, 200)
        assert self.response.status_code == expected, self.response.content
        self.sent = self._since(before)
        return self.sent

    def during(self, work) -> list:
        """Run `work()` (e.g. tasks a moved clock made due: tests/delayed.py) the way a
        message runs; return what the bot sent meanwhile."""
        before = self._mark()
        if self.capture is None:
            work()
        else:
            with self.capture(execute=True):
                work()
        self.sent = self._since(before)
        return self.sent

    # --- What the bot said -----------------------------------------------------------------

    @property
    def last(self):
        return self.sent[-1]

    @property
    def texts(self) -> list[str]:
        """The last turn's messages as text (Meta bodies or stub rows)."""
        return [m.text if isinstance(m, Message) else body_text(m) for m in self.sent]

    @property
    def conversation(self) -> Conversation:
        return conversation_of(self.bot, self.phone)

    def said(self) -> list[Message]:
        """Every outbound message of this conversation so far, oldest first."""
        return bot_said(self.bot, self.phone)

    # --- Plumbing --------------------------------------------------------------------------

    def _post(self, payload: dict):
        provider = self.bot.provider
        if provider == "whaticket":
            secret = _secrets(self.bot).get("shared_secret", wt.SHARED_SECRET)
            return wt.post(self.client, payload, secret=secret)
        if provider == "evolution":
            secret = _secrets(self.bot).get("webhook_secret", evo.WEBHOOK_SECRET)
            return evo.post(self.client, self.bot.pk, payload, secret=secret)
        secret = self.bot.app_secret or settings.WHATSAPP_APP_SECRET
        return meta.post(self.client, payload, secret, path=META_WEBHOOK)

    def _mark(self) -> int:
        if self.fake is not None:
            return len(self.fake.sends)
        last = Message.objects.filter(direction=Message.Direction.OUT).order_by("-id").first()
        return last.pk if last else 0

    def _since(self, mark: int) -> list:
        if self.fake is None:
            return list(
                Message.objects.filter(direction=Message.Direction.OUT, pk__gt=mark).order_by("id")
            )
        return [r.json for r in self.fake.sends[mark:]]


@pytest.fixture
def chat_with(request, client, celery_eager, django_capture_on_commit_callbacks):
    """Start a customer's chat with a bot: `chat_with(bot, phone=..., name=...)`, talking
    through the bot's provider's fake, with every task run inline."""

    def start(bot: Chatbot, **kwargs) -> Chat:
        name = FAKES.get(bot.provider)
        fake = request.getfixturevalue(name) if name else None
        return Chat(client, bot, capture=django_capture_on_commit_callbacks, fake=fake, **kwargs)

    return start
