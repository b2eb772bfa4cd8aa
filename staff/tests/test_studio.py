"""The owner's pages without a browser: the front door, the flow editor's forms (built from
the handlers' config schemas), the flow drawing and the simulator."""

from __future__ import annotations

import pytest

from billing.models import Membership
from chatbots.models import Step
from tests.factories import ChatbotFactory, MembershipFactory, StepFactory

pytestmark = pytest.mark.django_db

GENERIC = "chatbots.handlers.generic"
MENU_PATH = f"{GENERIC}.MenuHandler"


def _steps(bot, *specs: tuple[str, str, dict]) -> None:
    """The bot's steps in order: (code, handler path, config) each."""
    for order, (code, handler_path, config) in enumerate(specs, start=1):
        StepFactory(chatbot=bot, code=code, order=order, handler_path=handler_path, config=config)


@pytest.fixture
def owner(client):
    membership = MembershipFactory(role=Membership.Role.OWNER)
    client.force_login(membership.user)
    bot = ChatbotFactory(tenant=membership.tenant, name="Loja", provider="stub")
    return {"client": client, "bot": bot, "membership": membership}


def test_the_front_door_is_a_product_page_in_portuguese(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "WhatsApp" in page and "Entrar no painel" in page
    assert "/atendimento/" in page and "/admin/" in page and "/api/docs/" in page


def test_a_menu_step_is_a_form_not_a_json_box(owner):
    page = owner["client"].get(
        f"/atendimento/robos/{owner['bot'].pk}/fluxo/nova/", {"tipo": MENU_PATH}
    )
    html = page.content.decode()
    assert 'name="opt_5_title"' in html and "Pergunta do menu" in html
    assert "config_json" not in html


def _post_menu(owner, **extra):
    data = {"code": "inicio", "handler_path": MENU_PATH, "cfg_text": "Olá! O que deseja?"}
    data.update(extra)
    return owner["client"].post(f"/atendimento/robos/{owner['bot'].pk}/fluxo/nova/", data)


def test_an_owner_builds_a_menu_with_the_form(owner):
    StepFactory(
        chatbot=owner["bot"],
        code="fim",
        order=9,
        handler_path=f"{GENERIC}.EndHandler",
        config={"text": "Tchau"},
    )
    response = _post_menu(owner, opt_1_title="Horários", opt_1_next="fim")
    assert response.status_code == 302
    step = Step.objects.get(chatbot=owner["bot"], code="inicio")
    assert step.config == {
        "text": "Olá! O que deseja?",
        "options": [{"title": "Horários", "next": "fim"}],
    }


def test_an_invalid_option_is_refused_at_its_field(owner):
    StepFactory(
        chatbot=owner["bot"],
        code="fim",
        order=9,
        handler_path=f"{GENERIC}.EndHandler",
        config={"text": "Tchau"},
    )
    response = _post_menu(owner, opt_1_title="Um título longo demais para botão", opt_1_next="fim")
    assert response.status_code == 200
    form = response.context["form"]
    assert "20" in " ".join(form.errors["opt_1_title"])
    assert not Step.objects.filter(code="inicio").exists()


def test_an_agent_cannot_change_the_flow(client, owner):
    agent = MembershipFactory(tenant=owner["bot"].tenant, role=Membership.Role.AGENT)
    client.force_login(agent.user)
    response = client.post(f"/atendimento/robos/{owner['bot'].pk}/fluxo/nova/", {})
    assert response.status_code == 403


def test_another_tenants_bot_is_not_found(owner):
    other = ChatbotFactory()
    assert owner["client"].get(f"/atendimento/robos/{other.pk}/fluxo/").status_code == 404


def test_the_flow_marks_unreachable_steps_and_missing_targets(owner):
    bot = owner["bot"]
    _steps(
        bot,
        ("inicio", MENU_PATH, {"text": "Oi", "options": [{"title": "A", "next": "fim"}]}),
        ("fim", f"{GENERIC}.EndHandler", {"text": "Tchau"}),
        ("sozinha", f"{GENERIC}.EndHandler", {"text": "Ninguém chega aqui"}),
        ("aviso", f"{GENERIC}.MessageHandler", {"text": "Sem etapa seguinte"}),
    )
    rows = owner["client"].get(f"/atendimento/robos/{bot.pk}/fluxo/").context["rows"]
    assert [r["unreachable"] for r in rows] == [False, False, True, True]
    assert rows[0]["links"] == [("A", "fim")]
    # Only the message that leads nowhere is a dead end: the end step finishes.
    assert [r["dead_end"] for r in rows] == [False, False, False, True]


def test_the_flow_is_drawn_with_arrows_and_marks(owner):
    bot = owner["bot"]
    options = [{"title": "Pedir", "next": "pedido"}, {"title": "Sumiu", "next": "fantasma"}]
    _steps(
        bot,
        ("inicio", MENU_PATH, {"text": "Oi", "options": options}),
        ("pedido", f"{GENERIC}.MessageHandler", {"text": "Anotado", "next": "inicio"}),
        ("sozinha", f"{GENERIC}.EndHandler", {"text": "Ninguém chega aqui"}),
    )
    response = owner["client"].get(f"/atendimento/robos/{bot.pk}/fluxo/")
    diagram = response.context["diagram"]
    nodes = {n.code: n for n in diagram.nodes}
    # Layered by depth: the start on top, what it leads to below, the orphan at the bottom.
    assert nodes["inicio"].y < nodes["pedido"].y < nodes["sozinha"].y
    assert nodes["fantasma"].missing and nodes["sozinha"].unreachable
    arrows = {(e.source, e.target): e for e in diagram.edges}
    assert arrows[("inicio", "pedido")].label == "Pedir"
    assert arrows[("pedido", "inicio")].back  # back to the menu bends round the side
    html = response.content.decode()
    assert 'data-from="inicio" data-to="pedido"' in html
    pedido = Step.objects.get(chatbot=bot, code="pedido")
    assert f'href="/atendimento/robos/{bot.pk}/fluxo/{pedido.pk}/"' in html
    assert "etapa inexistente" in html and "inalcançável" in html


def test_the_simulator_runs_the_flow_and_resets(owner, run_commits):
    bot = owner["bot"]
    StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path=MENU_PATH,
        config={
            "text": "Olá! Como posso ajudar?",
            "options": [{"title": "Horários", "next": "fim"}],
        },
    )
    StepFactory(
        chatbot=bot,
        code="fim",
        order=2,
        handler_path=f"{GENERIC}.EndHandler",
        config={"text": "Das 8h às 18h."},
    )
    url = f"/atendimento/robos/{bot.pk}/simulador/"
    client = owner["client"]
    run_commits(lambda: client.post(url, {"text": "oi"}))
    page = client.get(url).content.decode()
    assert "Olá! Como posso ajudar?" in page and 'value="inicio.1"' in page
    run_commits(lambda: client.post(url, {"reply_id": "inicio.1"}))
    assert "Das 8h às 18h." in client.get(url).content.decode()
    client.post(url, {"reiniciar": "1"})
    assert "Das 8h" not in client.get(url).content.decode()


def test_the_checklist_installs_a_starter_flow_and_ticks_itself(owner):
    client = owner["client"]
    page = client.get("/atendimento/comecar/")
    assert [i["done"] for i in page.context["items"]] == [False] * 5
    client.post("/atendimento/comecar/fluxo/", {"flow": "menu"})
    items = {i["key"]: i["done"] for i in client.get("/atendimento/comecar/").context["items"]}
    assert items["flow"] is True and items["simulator"] is False
    assert owner["bot"].steps.exists()


def test_every_generic_handler_declares_a_config_schema():
    from chatbots.handlers.registry import registered_handlers

    generic = [c for p, c in registered_handlers().items() if p.startswith(GENERIC)]
    assert generic and all(c.config_schema is not None for c in generic)


def test_the_simulator_says_who_answered(owner, run_commits):
    bot = owner["bot"]
    StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path=MENU_PATH,
        config={"text": "Olá!", "options": [{"title": "Horários", "next": "inicio"}]},
    )
    url = f"/atendimento/robos/{bot.pk}/simulador/"
    client = owner["client"]
    run_commits(lambda: client.post(url, {"text": "oi"}))
    assert client.get(url).context["answered_by"] == "Regra: saudação"
    run_commits(lambda: client.post(url, {"reply_id": "inicio.1", "text": "Horários"}))
    assert client.get(url).context["answered_by"] == "Etapa: Menu de opções"
    run_commits(lambda: client.post(url, {"text": "menu"}))
    assert client.get(url).context["answered_by"] == "Regra: palavra que recomeça (menu)"


def test_the_simulator_shows_media_and_templates_as_a_phone_would(owner):
    from chatbots.models import Conversation, Message
    from staff.studio import simulator_phone
    from tests.factories import ClienteFactory

    bot = owner["bot"]
    cliente = ClienteFactory(tenant=bot.tenant, telefone=simulator_phone(owner["membership"]))
    conversation = Conversation.objects.create(tenant=bot.tenant, chatbot=bot, cliente=cliente)
    for kind, payload in (
        (
            "media",
            {
                "kind": "media",
                "media_type": "image",
                "link": "https://x.example/p.png",
                "caption": "Nossa pizza",
            },
        ),
        ("template", {"kind": "template", "name": "lembrete", "rendered": "Seu horário é amanhã."}),
    ):
        Message.objects.create(
            tenant=bot.tenant,
            conversation=conversation,
            direction=Message.Direction.OUT,
            type=kind,
            payload=payload,
            text="x",
            status=Message.Status.SENT,
        )
    page = owner["client"].get(f"/atendimento/robos/{bot.pk}/simulador/").content.decode()
    assert '<img class="sim-media" src="https://x.example/p.png"' in page and "Nossa pizza" in page
    assert "modelo lembrete" in page and "Seu horário é amanhã." in page


def test_the_api_docs_speak_portuguese(client):
    schema = client.get("/api/schema/").content.decode()
    assert "API da plataforma de atendimento no WhatsApp" in schema


def test_every_registered_handler_declares_a_config_schema():
    from chatbots.handlers.registry import registered_handlers

    missing = [p for p, c in registered_handlers().items() if c.config_schema is None]
    assert missing == []


def test_the_assistant_step_offers_its_flows_as_step_choices(owner):
    bot = owner["bot"]
    StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path="chatbots.handlers.pedidos.InicioHandlerPedidos",
        config={},
    )
    path = "chatbots.handlers.assistant.AssistenteHandler"
    url = f"/atendimento/robos/{bot.pk}/fluxo/nova/"
    html = owner["client"].get(url, {"tipo": path}).content.decode()
    assert 'name="cfg_flows__pedido"' in html and "config_json" not in html
    response = owner["client"].post(
        url,
        {
            "code": "duvidas",
            "handler_path": path,
            "cfg_text": "Pergunte!",
            "cfg_flows__pedido": "inicio",
        },
    )
    assert response.status_code == 302
    step = Step.objects.get(chatbot=bot, code="duvidas")
    assert step.config == {"text": "Pergunte!", "flows": {"pedido": "inicio"}}
    edit = owner["client"].get(f"/atendimento/robos/{bot.pk}/fluxo/{step.pk}/")
    assert edit.context["form"].initial["cfg_flows__pedido"] == "inicio"


def test_editing_a_menu_keeps_the_option_ids_the_form_does_not_show(owner):
    bot = owner["bot"]
    StepFactory(
        chatbot=bot,
        code="fim",
        order=9,
        handler_path=f"{GENERIC}.EndHandler",
        config={"text": "Tchau"},
    )
    step = StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path=MENU_PATH,
        config={"text": "Oi", "options": [{"id": "info", "title": "Horário", "next": "fim"}]},
    )
    response = owner["client"].post(
        f"/atendimento/robos/{bot.pk}/fluxo/{step.pk}/",
        {
            "code": "inicio",
            "handler_path": MENU_PATH,
            "cfg_text": "Olá",
            "opt_1_title": "Horários",
            "opt_1_next": "fim",
        },
    )
    assert response.status_code == 302
    step.refresh_from_db()
    assert step.config["options"] == [{"id": "info", "title": "Horários", "next": "fim"}]


def test_login_and_api_errors_are_in_portuguese_even_for_an_english_browser(client):
    english = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
    token = client.post("/api/auth/token/", {"username": "x", "password": "y"}, **english)
    assert token.status_code == 401 and token.json()["detail"] == "Usuário e/ou senha incorreto(s)"
    api = client.get("/api/chatbots/", **english)
    assert api.json()["detail"] == "As credenciais de autenticação não foram fornecidas."
    admin = client.post("/admin/login/", {"username": "x", "password": "y"}, **english)
    assert "Por favor, insira um usuário e senha corretos" in admin.content.decode()


def test_a_code_driven_flow_is_drawn_in_rows_of_four(owner):
    from staff.flow_diagram import flow_layout
    from staff.studio import flow_graph

    path = "chatbots.handlers.pedidos.InicioHandlerPedidos"
    steps = [
        StepFactory(chatbot=owner["bot"], code=f"etapa{n}", order=n, handler_path=path)
        for n in range(1, 11)
    ]
    diagram = flow_layout(flow_graph(steps))
    rows = sorted({n.y for n in diagram.nodes})
    # The start alone on top, then nine steps that declare no arrows: 4 + 4 + 1.
    assert [sum(n.y == y for n in diagram.nodes) for y in rows] == [1, 4, 4, 1]
    assert not diagram.edges and not any(n.unreachable for n in diagram.nodes)


def test_an_owner_duplicates_moves_and_removes_steps(owner):
    bot = owner["bot"]
    _steps(
        bot,
        ("inicio", MENU_PATH, {"text": "Oi", "options": [{"title": "A", "next": "fim"}]}),
        ("fim", f"{GENERIC}.EndHandler", {"text": "Tchau"}),
    )
    client = owner["client"]

    def act(code: str, action: str):
        step = Step.objects.get(chatbot=bot, code=code)
        return client.post(f"/atendimento/robos/{bot.pk}/fluxo/{step.pk}/{action}/")

    def codes() -> list[str]:
        return [
            r["step"].code
            for r in client.get(f"/atendimento/robos/{bot.pk}/fluxo/").context["rows"]
        ]

    assert act("inicio", "duplicar").status_code == 302
    assert codes() == ["inicio", "fim", "inicio_2"]
    copy = Step.objects.get(chatbot=bot, code="inicio_2")
    assert copy.config == Step.objects.get(chatbot=bot, code="inicio").config
    act("inicio", "descer")
    assert codes() == ["fim", "inicio", "inicio_2"]
    act("inicio_2", "subir")
    assert codes() == ["fim", "inicio_2", "inicio"]
    act("inicio_2", "remover")
    assert codes() == ["fim", "inicio"]
    # The first step cannot go further up.
    act("fim", "subir")
    assert codes() == ["fim", "inicio"]


def test_a_step_action_of_another_tenant_or_an_unknown_one_changes_nothing(owner):
    other_step = StepFactory(chatbot=ChatbotFactory(), code="inicio", order=1)
    client = owner["client"]
    url = f"/atendimento/robos/{other_step.chatbot_id}/fluxo/{other_step.pk}/remover/"
    assert client.post(url).status_code == 404
    step = StepFactory(chatbot=owner["bot"], code="inicio", order=1)
    response = client.post(f"/atendimento/robos/{owner['bot'].pk}/fluxo/{step.pk}/apagar-tudo/")
    assert response.status_code == 404
    assert Step.objects.filter(pk__in=[step.pk, other_step.pk]).count() == 2


def test_the_first_real_message_ticks_going_live(owner):
    from django.utils import timezone

    from chatbots.models import InboundEvent

    client = owner["client"]
    bot = owner["bot"]
    assert "Primeiros passos" in client.get("/atendimento/conversas/").content.decode()
    InboundEvent.objects.create(
        tenant=bot.tenant,
        provider="meta",
        chatbot=bot,
        external_id="wamid.primeira",
        occurred_at=timezone.now(),
        payload={},
    )
    items = {i["key"]: i["done"] for i in client.get("/atendimento/comecar/").context["items"]}
    assert items["live"] is True
    # Live: the reminder on the conversations page goes away.
    assert "Primeiros passos: faltam" not in client.get("/atendimento/conversas/").content.decode()


def test_the_simulator_of_a_meta_bot_sends_nothing_to_meta(owner, run_commits, fake_graph):
    bot = owner["bot"]
    bot.provider, bot.phone_number_id, bot.access_token = "meta", "555009", "EAAG-token"
    bot.save()
    _steps(bot, ("inicio", f"{GENERIC}.EndHandler", {"text": "Das 8h às 18h."}))
    url = f"/atendimento/robos/{bot.pk}/simulador/"
    run_commits(lambda: owner["client"].post(url, {"text": "oi"}))
    assert "Das 8h às 18h." in owner["client"].get(url).content.decode()
    assert fake_graph.sends == []
