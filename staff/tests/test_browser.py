"""The staff app in a real browser (Playwright + Debian's chromium), live over the real
ASGI server: the issue's "Done when" path, the internal chat between two people, and an
agent who does not see another queue's conversation."""

from __future__ import annotations

import re
import time

import pytest

from billing.models import Membership
from chatbots.models import Conversation, Message
from inbox.models import Queue, QuickReply
from staff.tests.browser import LIVE_MS, login, shot
from tests import meta
from tests.conversation import body_text
from tests.factories import ChatbotFactory, MembershipFactory, StepFactory

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "5511987654321"
MENU = {
    "text": "Olá! Como posso ajudar?",
    "options": [
        {"id": "atendente", "title": "Falar com atendente", "next": "atendente"},
        {"id": "horarios", "title": "Horários", "next": "horarios"},
    ],
}
# Records every browser notification the page shows (the real one still runs) and every
# sound it plays, and lets the test say whether the tab has the focus (window.__focused).
RECORD_RINGS = """
(() => {
  window.__sounds = [];
  HTMLMediaElement.prototype.play = function () {
    window.__sounds.push(this.src);
    return Promise.resolve();
  };
  const realHasFocus = Document.prototype.hasFocus;
  Document.prototype.hasFocus = function () {
    return window.__focused === undefined ? realHasFocus.call(this) : window.__focused;
  };
  const Real = window.Notification;
  window.__notifications = [];
  if (!Real) return;
  function Recording(title, options) {
    window.__notifications.push({ title, body: (options || {}).body || "" });
    return new Real(title, options);
  }
  Recording.permission = "granted";
  Recording.requestPermission = () => Promise.resolve("granted");
  window.Notification = Recording;
})();
"""


@pytest.fixture
def shop(fake_graph, celery_eager):
    """A Meta bot whose menu hands over to the Suporte queue, an agent of Suporte and an
    agent of Financeiro only."""
    agent = MembershipFactory(role=Membership.Role.AGENT, user__first_name="Ana")
    tenant = agent.tenant
    other = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT, user__first_name="Beto")
    suporte = Queue.objects.create(tenant=tenant, name="Suporte", slug="suporte")
    financeiro = Queue.objects.create(tenant=tenant, name="Financeiro", slug="financeiro")
    suporte.members.add(agent.user)
    financeiro.members.add(other.user)
    QuickReply.objects.create(
        tenant=tenant,
        queue=suporte,
        shortcut="ola",
        text="Olá Maria, sou a Ana. Em que posso ajudar?",
    )
    QuickReply.objects.create(tenant=tenant, queue=financeiro, shortcut="olb", text="Outra fila")
    bot = ChatbotFactory(tenant=tenant, name="Loja", phone_number_id="1234567")
    generic = "chatbots.handlers.generic"
    StepFactory(
        chatbot=bot, code="inicio", order=1, handler_path=f"{generic}.MenuHandler", config=MENU
    )
    StepFactory(
        chatbot=bot,
        code="atendente",
        order=2,
        handler_path=f"{generic}.HandoffHandler",
        config={"text": "Vou chamar alguém.", "queue": "suporte"},
    )
    StepFactory(
        chatbot=bot,
        code="horarios",
        order=3,
        handler_path=f"{generic}.EndHandler",
        config={"text": "Das 8h às 18h."},
    )
    return {
        "bot": bot,
        "agent": agent.user,
        "other": other.user,
        "suporte": suporte,
        "graph": fake_graph,
    }


class Customer:
    def __init__(self, server, bot, ts: int) -> None:
        self.server, self.bot, self.ts = server, bot, ts

    def _post(self, payload) -> None:
        assert self.server.post_webhook(payload, self.bot.app_secret) == 200

    def text(self, body: str) -> None:
        self.ts += 1
        self._post(
            meta.text_message(
                self.bot.phone_number_id, sender=CUSTOMER, body=body, name="Maria", ts=self.ts
            )
        )

    def read(self, wamid: str) -> None:
        """The customer's phone reports our message `wamid` as read (a status webhook)."""
        self.ts += 1
        self._post(
            meta.envelope(
                self.bot.phone_number_id,
                statuses=[
                    {
                        "id": wamid,
                        "status": "read",
                        "timestamp": str(self.ts),
                        "recipient_id": CUSTOMER,
                    }
                ],
            )
        )

    def tap(self, reply_id: str, title: str) -> None:
        self.ts += 1
        self._post(
            meta.button_reply(
                self.bot.phone_number_id,
                sender=CUSTOMER,
                reply_id=reply_id,
                title=title,
                ts=self.ts,
            )
        )


def _texts_to_customer(graph) -> list[str]:
    """What the customer got, as text (interactive menus by their body)."""
    return [body_text(r.json) for r in graph.sends if r.json.get("to", "").lstrip("+") == CUSTOMER]


def _wait_sent(graph, text: str, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while text not in _texts_to_customer(graph):
        assert time.monotonic() < deadline, f"{text!r} never reached the Graph API"
        time.sleep(0.05)
    return _texts_to_customer(graph)


def test_an_agent_answers_a_customer_who_asked_for_a_person_live(live_asgi, new_page, shop):
    graph = shop["graph"]
    customer = Customer(live_asgi, shop["bot"], ts=int(time.time()) - 60)
    page = new_page()
    page.context.add_init_script(RECORD_RINGS)
    login(page, shop["agent"])
    outsider = new_page()
    login(outsider, shop["other"])
    page.evaluate("window.__sameDocument = true; window.__focused = false")  # another tab
    assert page.locator("li.empty").is_visible()  # nobody waiting yet
    assert page.title() == "Atendimento"
    # Every state tab fits a phone's width (none hidden past the edge).
    for box in (tab.bounding_box() for tab in page.locator(".tabs a").all()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box

    customer.text("oi")
    customer.tap("atendente", "Falar com atendente")

    # The conversation appears on the agent's list, without a reload, with a notification.
    conversation = Conversation.objects.get(cliente__telefone=CUSTOMER)
    row = page.locator(f"li[data-conversation='{conversation.pk}']")
    row.wait_for(timeout=LIVE_MS)
    assert page.evaluate("window.__sameDocument") is True
    assert "Maria" in row.inner_text()
    assert "Suporte" in row.inner_text()
    assert "aguardando há menos de 1 min" in row.inner_text()
    page.wait_for_function("window.__notifications.length > 0", timeout=LIVE_MS)
    assert page.evaluate("window.__notifications[0].title") == "Conversa aguardando atendente"
    # A sound, and the count in the tab's title while the agent looks elsewhere.
    assert page.evaluate("window.__sounds")[0].endswith("/staff/notify.wav")
    assert re.match(r"^\(\d+\) Atendimento$", page.title()), page.title()
    page.evaluate("window.__focused = true; window.dispatchEvent(new Event('focus'))")
    assert page.title() == "Atendimento"
    shot(page, "atendimento-lista")

    # The Financeiro agent sees none of it, and cannot open it either.
    outsider.reload()
    assert outsider.locator(f"li[data-conversation='{conversation.pk}']").count() == 0
    response = outsider.goto(f"/atendimento/conversas/{conversation.pk}/")
    assert response.status == 404

    # Takes it and replies: the text reaches the fake Graph API, to that customer.
    row.locator("a").click()
    page.wait_for_url(f"**/conversas/{conversation.pk}/")
    page.wait_for_selector("body[data-live=open]")
    page.get_by_role("button", name="Assumir").click()
    page.wait_for_selector("text=Em atendimento por Ana")
    # A quick reply of the queue, typed with "/".
    page.locator("#reply-text").press_sequentially("/ol")
    page.locator(".quick-reply", has_text="/ola").wait_for()
    assert page.locator(".quick-reply").count() == 1  # not the Financeiro queue's "/olb"
    page.locator("#reply-text").press("Enter")
    assert page.input_value("#reply-text") == "Olá Maria, sou a Ana. Em que posso ajudar?"
    page.get_by_role("button", name="Enviar", exact=True).click()
    _wait_sent(graph, "Olá Maria, sou a Ana. Em que posso ajudar?")
    page.wait_for_selector("li.msg.staff >> text=Olá Maria, sou a Ana")
    page.wait_for_selector("body[data-live=open]")
    page.evaluate("window.__sameDocument = true")
    # The file picker speaks pt-BR whatever the browser's own language.
    page.locator(".attach-box summary").click()
    assert page.locator(".file-pick").inner_text() == "Escolher arquivo"
    page.set_input_files(
        ".file-pick input",
        files=[{"name": "nota.pdf", "mimeType": "application/pdf", "buffer": b"%PDF"}],
    )
    assert page.locator(".attach-form .file-name").inner_text() == "nota.pdf"
    page.locator(".attach-box summary").click()

    # The customer reads it: the message's status changes live.
    reply = Message.objects.get(conversation=conversation, text__startswith="Olá Maria, sou")
    customer.read(reply.provider_message_id)
    page.locator(f"li[data-message='{reply.pk}'] [data-status=read]").wait_for(timeout=LIVE_MS)

    # The customer's answer appears live on the conversation page.
    customer.text("Meu pedido não chegou")
    page.locator("li.msg.customer", has_text="Meu pedido não chegou").wait_for(timeout=LIVE_MS)
    assert page.evaluate("window.__sameDocument") is True
    labels = page.locator("li.msg .label").all_inner_texts()
    assert "Cliente" in labels and "Robô" in labels and "Ana" in labels
    shot(page, "atendimento-conversa")

    # A transfer being filled stays open while the bar is re-read live.
    page.locator(".transfer summary").click()
    page.select_option(".transfer select[name=queue]", label="Suporte")
    page.evaluate(
        """() => new Promise((done) => {
          document.body.addEventListener("htmx:afterSwap", done, { once: true });
          htmx.trigger("#ticket-bar", "refresh");
        })"""
    )
    assert page.locator("details.transfer[open]").count() == 1
    page.locator(".transfer summary").click()

    # Closed: the customer's next message gets the bot again.
    page.get_by_role("button", name="Encerrar").click()
    page.wait_for_selector("text=Atendimento encerrado.")

    def menus() -> int:
        return sum("Olá! Como posso ajudar?" in t for t in _texts_to_customer(graph))

    menus_before = menus()
    customer.text("oi de novo")
    deadline = time.monotonic() + 10
    while menus() <= menus_before:
        assert time.monotonic() < deadline, _texts_to_customer(graph)
        time.sleep(0.05)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.BOT


def test_two_attendants_chat_in_their_queues_room_live(live_asgi, new_page, shop):
    colleague = MembershipFactory(
        tenant=shop["bot"].tenant, role=Membership.Role.AGENT, user__first_name="Caio"
    ).user
    shop["suporte"].members.add(colleague)
    ana, caio = new_page(), new_page(width=1280, height=800)
    login(ana, shop["agent"])
    login(caio, colleague)
    for page in (ana, caio):
        page.goto("/atendimento/chat/")
        page.wait_for_selector("h1:has-text('# Suporte')")
        page.wait_for_selector("body[data-live=open]")
    caio.evaluate("window.__sameDocument = true")

    ana.fill("input[name=text]", "Alguém pode olhar o pedido 42?")
    ana.get_by_role("button", name="Enviar").click()

    caio.locator(".chat-list li", has_text="Alguém pode olhar o pedido 42?").wait_for(
        timeout=LIVE_MS
    )
    assert caio.evaluate("window.__sameDocument") is True
    caio.fill("input[name=text]", "Vejo agora.")
    caio.get_by_role("button", name="Enviar").click()
    ana.locator(".chat-list li", has_text="Vejo agora.").wait_for(timeout=LIVE_MS)
    # Ana's colleague is shown online in the team list.
    ana_dot = caio.locator(f"[data-presence-user='{shop['agent'].pk}']")
    assert ana_dot.get_attribute("data-presence") in ("online", "away")
    assert ana_dot.get_attribute("title") in ("Online", "Ausente")
    shot(caio, "atendimento-chat-interno")
    shot(ana, "atendimento-chat-interno-celular")
