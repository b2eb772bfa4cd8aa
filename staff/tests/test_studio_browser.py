"""The owner's pages in a real browser: a new tenant's owner builds a five-option menu with a
question and a handoff through the forms, tries it in the simulator (taps a row, types an
answer) and sees the replies; an invalid step is refused at its field. Screenshots of the
flow, the simulator and `/` go to test-artifacts/."""

from __future__ import annotations

import pytest

from billing.models import Membership
from chatbots.models import Chatbot, Step
from staff.tests.browser import login, shot
from tests.factories import ChatbotFactory, MembershipFactory
from tests.fakes.evolution import png_from_modules, sample_modules

pytestmark = pytest.mark.django_db(transaction=True)

GENERIC = "chatbots.handlers.generic"
PNG = png_from_modules(sample_modules())


def _add_step(page, bot, code: str, handler: str, fields: dict[str, str]) -> None:
    page.goto(f"/atendimento/robos/{bot.pk}/fluxo/nova/?tipo={GENERIC}.{handler}")
    page.fill("input[name=code]", code)
    for name, value in fields.items():
        selector = f"[name={name}]"
        if page.locator(f"select{selector}").count():
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click("button.primary")


def test_an_owner_builds_a_menu_and_tries_it_in_the_simulator(live_asgi, new_page, celery_eager):
    owner = MembershipFactory(role=Membership.Role.OWNER, user__first_name="Olga")
    page = new_page(width=1280, height=900)

    page.goto("/")
    assert page.get_by_role("link", name="Entrar no painel").is_visible()
    shot(page, "front-door")

    # A new tenant: no bot yet; the conversations page points at the checklist.
    login(page, owner.user)
    page.click(".onboarding-banner a")
    page.fill("#bot-name", "Pizzaria")
    page.click("#bot-create button")
    page.wait_for_selector("text=Robô criado: Pizzaria.")
    bot = Chatbot.objects.get(tenant=owner.tenant)
    assert page.locator("[data-item=flow] .tag").inner_text() == "a fazer"
    shot(page, "checklist")
    page.click("text=Montar o meu")
    _add_step(page, bot, "atendente", "HandoffHandler", {"cfg_text": "Vou chamar alguém."})
    page.wait_for_url("**/fluxo/")
    _add_step(
        page,
        bot,
        "nome",
        "QuestionHandler",
        {"cfg_text": "Qual o seu nome?", "cfg_save_as": "nome", "cfg_next": "atendente"},
    )
    page.wait_for_url("**/fluxo/")

    # Refused at the field: a list row title over WhatsApp's 24 characters.
    menu = {"cfg_text": "Olá! Como posso ajudar?"}
    titles = ["Cadastro", "Pedidos", "Horários", "Endereço", "Falar com atendente"]
    for n, title in enumerate(titles, 1):
        menu[f"opt_{n}_title"] = title
        menu[f"opt_{n}_next"] = "nome" if n == 1 else "atendente"
    _add_step(page, bot, "inicio", "MenuHandler", menu)
    page.wait_for_url("**/fluxo/")
    page.locator("#step-inicio a", has_text="Editar").click()
    page.fill("[name=opt_2_title]", "Um título longo demais para uma linha")
    page.click("button.primary")
    error = page.locator("[data-field=opt_2_title] .errorlist")
    assert "24" in error.inner_text()
    assert Step.objects.get(chatbot=bot, code="inicio").config["options"][1]["title"] == "Pedidos"
    page.fill("[name=opt_2_title]", "Pedidos")
    page.click("button.primary")
    page.wait_for_url("**/fluxo/")
    # The menu goes first.
    for _ in range(2):
        page.locator("#step-inicio button", has_text="Subir").click()
        page.wait_for_url("**/fluxo/")
    assert page.locator("li.step").first.get_attribute("id") == "step-inicio"
    assert page.locator("#step-inicio").inner_text().count("→") == 5
    assert page.locator(".unreachable").count() == 0
    # The drawing: one arrow per pair of steps (four options lead to the handoff), each
    # box opens its form.
    assert page.locator("#flow-diagram g.edge").count() == 3
    arrow = page.locator('#flow-diagram g.edge[data-from="inicio"][data-to="atendente"] text')
    assert arrow.text_content() == "Pedidos +3"
    shot(page, "flow")
    page.locator('#flow-diagram g.node[data-step="nome"] a').click()
    assert page.locator("[name=cfg_save_as]").input_value() == "nome"
    page.go_back()

    page.click("text=Testar no simulador")
    page.fill("input[name=text]", "oi")
    page.click("#sim-send")
    page.locator("button.sim-row", has_text="Cadastro").click()
    page.wait_for_selector("text=Qual o seu nome?")
    page.fill("input[name=text]", "Maria")
    page.click("#sim-send")
    page.wait_for_selector("text=Vou chamar alguém.")
    state = page.locator("#sim-state").inner_text()
    assert "Maria" in state and "Última opção escolhida: Cadastro" in state
    assert "last_choice" not in state
    shot(page, "simulator")
    page.goto("/atendimento/comecar/")
    for item in ("flow", "simulator"):
        assert page.locator(f"[data-item={item}] .tag").inner_text() == "feito"


def test_the_owner_connects_evolution_from_the_checklist_and_sees_conectado(
    live_asgi, new_page, fake_evolution
):
    from tests.fakes.evolution import APIKEY

    owner = MembershipFactory(role=Membership.Role.OWNER)
    bot = ChatbotFactory(tenant=owner.tenant, name="Clínica", provider="stub")
    page = new_page(width=1280, height=900)
    login(page, owner.user)
    page.click("text=Primeiros passos")
    page.click("text=Conectar o número")
    page.click("nav.tabs >> text=Evolution API")
    page.fill("[name=evo_base_url]", fake_evolution.url)
    page.fill("[name=evo_instance]", "loja")
    page.fill("[name=evo_apikey]", APIKEY)
    shot(page, "connection-form")
    page.click("#connection-save")
    page.wait_for_selector("text=Conexão salva.")
    qr = page.locator("img#qr")
    assert qr.get_attribute("src").startswith("data:image/png;base64,")
    assert qr.evaluate("img => img.naturalWidth") > 0
    assert APIKEY not in page.content()
    shot(page, "connection-qr")
    # The phone reads the code: the fake reports the instance open.
    fake_evolution.instances["loja"]["state"] = "open"
    connected = page.wait_for_selector("p.connected", timeout=8000)
    assert "conectado" in connected.inner_text()
    assert page.locator("img#qr").count() == 0
    page.goto("/atendimento/comecar/")
    assert page.locator("[data-item=number] .tag").inner_text() == "feito"
    assert bot.pk == Chatbot.objects.get(tenant=owner.tenant).pk


def test_on_a_phone_the_owner_installs_a_starter_flow_and_taps_a_button(
    live_asgi, new_page, celery_eager
):
    owner = MembershipFactory(role=Membership.Role.OWNER)
    bot = ChatbotFactory(tenant=owner.tenant, name="Barbearia", provider="stub")
    page = new_page()  # 390 x 844
    login(page, owner.user)
    page.click("text=Primeiros passos")
    page.click("button[value=menu]")
    page.wait_for_selector("text=Fluxo instalado")
    assert page.locator("[data-item=flow] .tag").inner_text() == "feito"
    shot(page, "phone-checklist")
    page.click("text=Abrir o simulador")
    page.fill("input[name=text]", "oi")
    page.click("#sim-send")
    page.locator("button.sim-button", has_text="Horário e endereço").click()
    page.wait_for_selector("text=das 9h às 18h")
    assert "Etapa" in page.locator("#sim-answered").inner_text()
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-simulator")
    page.goto(f"/atendimento/robos/{bot.pk}/fluxo/")
    assert page.locator("li.step").count() == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The drawing scrolls inside its box, opened on the first step.
    assert page.locator('#flow-diagram g.node[data-step="inicio"] rect').is_visible()
    box = page.locator("#flow-diagram").bounding_box()
    first = page.locator('#flow-diagram g.node[data-step="inicio"] rect').bounding_box()
    assert box["x"] <= first["x"] and first["x"] + first["width"] <= box["x"] + box["width"]
    shot(page, "phone-flow")
    page.locator("#step-inicio a", has_text="Editar").click()
    assert page.locator("[name=opt_1_title]").input_value() == "Horário e endereço"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-step-menu")
    page.goto(f"/atendimento/robos/{bot.pk}/comportamento/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-behaviour")
    page.goto(f"/atendimento/robos/{bot.pk}/conexao/?provedor=meta")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-connection")
    page.goto("/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-front-door")


def test_on_a_phone_the_owner_adds_a_product_from_the_checklist(
    live_asgi, new_page, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    settings.SITE_URL = live_asgi.url
    owner = MembershipFactory(role=Membership.Role.OWNER)
    ChatbotFactory(tenant=owner.tenant, name="Lanchonete", provider="stub")
    page = new_page()  # 390 x 844
    login(page, owner.user)
    page.goto("/atendimento/comecar/")
    page.click("[data-item=catalog] >> text=Cadastrar um produto")
    page.fill("[name=nome]", "X-Burguer")
    page.fill("[name=nova_categoria]", "Lanches")
    page.fill("[name=preco]", "23,90")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("button.primary")
    page.wait_for_selector("text=Produto salvo: X-Burguer.")
    assert "R$ 23,90" in page.locator("#produtos").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert "Lanches" in page.locator("#categorias").inner_text()
    shot(page, "phone-catalog")
    # The photo from the phone's gallery: kept here and shown on the product.
    page.locator("#produtos a", has_text="Editar").click()
    page.set_input_files("[name=foto]", {"name": "x.png", "mimeType": "image/png", "buffer": PNG})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-product-form")
    page.click("button.primary")
    page.wait_for_selector("text=Produto salvo: X-Burguer.")
    photo = page.locator("#produtos img")
    assert photo.evaluate("img => img.naturalWidth") > 0
    assert "/atendimento/catalogo/foto/" in photo.get_attribute("src")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-catalog-photo")
    page.goto("/atendimento/comecar/")
    assert page.locator("[data-item=catalog] .tag").inner_text() == "feito"
