"""The chatbots admin: tenant isolation, write-only secrets, the step form, actions, cheap lists."""

from __future__ import annotations

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Membership
from billing.services import subscription_start
from chatbots import bots
from chatbots.forms import WriteOnlySecretWidget
from chatbots.models import Chatbot, Conversation, InboundEvent, Message, Step
from config.paginator import LargeTablePaginator
from tests.factories import ClienteFactory, MembershipFactory, PlanFactory, UserFactory

ADMIN = "/admin/chatbots"
END = "chatbots.handlers.generic.EndHandler"
MESSAGE = "chatbots.handlers.generic.MessageHandler"
TOKEN, APP_SECRET, API_KEY = "TOKEN-PLANTADO-123", "APPSECRET-PLANTADO-456", "APIKEY-PLANTADA-789"


# --- Helpers ------------------------------------------------------------------------------


def form_values(form) -> dict:
    """What a browser posts for `form` as rendered (secrets empty, unticked boxes absent)."""
    data = {}
    for bound in form:
        widget = bound.field.widget
        if isinstance(widget, WriteOnlySecretWidget):
            data[bound.html_name] = ""
            continue
        value = bound.value()
        if bound.field.show_hidden_initial:  # rendered as a hidden "initial-" input
            data[bound.html_initial_name] = bound.field.prepare_value(bound.initial)
        if isinstance(widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
            continue
        data[bound.html_name] = "" if value is None else value
    return data


def page_data(response, **overrides) -> dict:
    """The POST body of an admin change/add page, with `overrides` applied."""
    data = form_values(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(form_values(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(form_values(form))
    data.update(overrides)
    return data


def conversation(bot, **kwargs) -> Conversation:
    cliente = kwargs.pop("cliente", None) or ClienteFactory(tenant_id=bot.tenant_id)
    return Conversation.objects.create(
        tenant_id=bot.tenant_id, chatbot=bot, cliente=cliente, **kwargs
    )


def message(conv, text="oi", **kwargs) -> Message:
    kwargs.setdefault("direction", Message.Direction.IN)
    kwargs.setdefault("status", Message.Status.RECEIVED)
    return Message.objects.create(tenant_id=conv.tenant_id, conversation=conv, text=text, **kwargs)


def event(bot, external_id, **kwargs) -> InboundEvent:
    return InboundEvent.objects.create(
        tenant_id=bot.tenant_id,
        chatbot=bot,
        provider="meta",
        external_id=external_id,
        kind=InboundEvent.Kind.MESSAGE,
        contact_key=kwargs.pop("contact_key", "5511987654321"),
        occurred_at=timezone.now(),
        payload={},
        **kwargs,
    )


@pytest.fixture
def staff(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def bot(tenant):
    return bots.chatbot_create(
        tenant=tenant,
        name="Bot da Padaria",
        provider="stub",
        access_token=TOKEN,
        app_secret=APP_SECRET,
        provider_secrets={"api_key": API_KEY},
    )


@pytest.fixture
def other_bot(other_tenant):
    return bots.chatbot_create(tenant=other_tenant, name="Bot da Clínica", provider="stub")


# --- Tenant isolation ---------------------------------------------------------------------


def test_staff_see_only_their_tenants_rows_in_every_list(staff, bot, other_bot):
    mine = conversation(bot, cliente=ClienteFactory(tenant=bot.tenant, nome="Maria Padaria"))
    theirs = conversation(
        other_bot, cliente=ClienteFactory(tenant=other_bot.tenant, nome="Joana Clínica")
    )
    message(mine, "pão francês")
    message(theirs, "consulta marcada")
    event(bot, "wamid.padaria")
    event(other_bot, "wamid.clinica")

    pages = {
        "chatbot": ("Bot da Padaria", "Bot da Clínica"),
        "conversation": ("Maria Padaria", "Joana Clínica"),
        "message": ("pão francês", "consulta marcada"),
        "inboundevent": ("Bot da Padaria", "Bot da Clínica"),
    }
    for model, (visible, hidden) in pages.items():
        response = staff.get(f"{ADMIN}/{model}/")
        assert response.status_code == 200, model
        html = response.content.decode()
        assert visible in html, model
        # Not in the rows, nor in the chatbot filter's choices.
        assert hidden not in html, model


def test_another_tenants_conversation_cannot_be_opened(staff, other_bot):
    theirs = conversation(other_bot, cliente=ClienteFactory(tenant=other_bot.tenant, nome="Joana"))
    response = staff.get(f"{ADMIN}/conversation/{theirs.pk}/change/", follow=True)
    assert "Joana" not in response.content.decode()
    response = staff.post(f"{ADMIN}/conversation/{theirs.pk}/change/", {"status": "closed"})
    theirs.refresh_from_db()
    assert theirs.status == Conversation.Status.BOT


# --- Bots and secrets -----------------------------------------------------------------------


def test_the_bot_page_never_shows_stored_secrets_only_whether_they_are_set(staff, bot):
    html = staff.get(f"{ADMIN}/chatbot/{bot.pk}/change/").content.decode()
    for secret in (TOKEN, APP_SECRET, API_KEY):
        assert secret not in html
    assert "não definido" not in html  # all three are set
    assert html.count(">definido<") == 3
    listing = staff.get(f"{ADMIN}/chatbot/").content.decode()
    assert TOKEN not in listing and APP_SECRET not in listing


def test_saving_the_bot_with_blank_secrets_keeps_them(staff, bot):
    url = f"{ADMIN}/chatbot/{bot.pk}/change/"
    response = staff.post(url, page_data(staff.get(url), name="Padaria Centro"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    bot.refresh_from_db()
    assert bot.name == "Padaria Centro"
    assert (bot.access_token, bot.app_secret) == (TOKEN, APP_SECRET)
    assert API_KEY in bot.provider_secrets


def test_a_typed_secret_replaces_the_stored_one_and_the_box_erases_it(staff, bot):
    url = f"{ADMIN}/chatbot/{bot.pk}/change/"
    data = page_data(staff.get(url), access_token="token-novo", app_secret__clear="on")
    assert staff.post(url, data).status_code == 302
    bot.refresh_from_db()
    assert (bot.access_token, bot.app_secret) == ("token-novo", "")
    assert "não definido" in staff.get(url).content.decode()


def test_provider_secrets_must_be_a_json_object(staff, bot):
    url = f"{ADMIN}/chatbot/{bot.pk}/change/"
    response = staff.post(url, page_data(staff.get(url), provider_secrets="nao-e-json"))
    assert response.status_code == 200
    assert "provider_secrets" in response.context["adminform"].form.errors
    assert "nao-e-json" not in response.content.decode()  # even a rejected secret stays hidden


def test_the_provider_is_a_dropdown_of_registered_providers(staff, bot):
    form = staff.get(f"{ADMIN}/chatbot/{bot.pk}/change/").context["adminform"].form
    keys = [key for key, _label in form.fields["provider"].choices]
    assert "stub" in keys and "meta" in keys
    url = f"{ADMIN}/chatbot/{bot.pk}/change/"
    response = staff.post(url, page_data(staff.get(url), provider="zapzap"))
    assert "zapzap" in str(response.context["adminform"].form.errors["provider"])


# --- Steps ----------------------------------------------------------------------------------


def add_page_with_step(staff, tenant, **step):
    response = staff.get(f"{ADMIN}/chatbot/add/")
    data = page_data(response, name="Novo bot", provider="stub")
    data.update({f"steps-0-{k}": v for k, v in step.items()})
    data.setdefault("steps-0-active", "on")
    return staff.post(f"{ADMIN}/chatbot/add/", data)


def test_the_add_page_offers_registered_handlers_with_their_config_help(staff):
    response = staff.get(f"{ADMIN}/chatbot/add/")
    html = response.content.decode()
    assert f'value="{MESSAGE}"' in html
    assert "Mensagem (diz e segue)" in html
    # MessageHandler's config_help, in the handler list under the steps.
    assert "o que o robô diz" in html


def test_adding_a_bot_with_a_step_saves_both_for_the_tenant(staff, tenant):
    response = add_page_with_step(
        staff, tenant, order="1", code="inicio", handler_path=MESSAGE, config='{"text": "Olá!"}'
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    bot = Chatbot.objects.get(name="Novo bot")
    step = bot.steps.get()
    assert (bot.tenant_id, step.tenant_id) == (tenant.pk, tenant.pk)
    assert (step.code, step.handler_path, step.config) == ("inicio", MESSAGE, {"text": "Olá!"})


def test_the_step_form_refuses_an_unregistered_handler_naming_it(staff, tenant):
    response = add_page_with_step(
        staff, tenant, order="1", code="x", handler_path="os.system", config="{}"
    )
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors[0]
    assert "os.system" in str(errors["handler_path"])
    assert "os.system" in response.content.decode()
    assert not Chatbot.objects.filter(name="Novo bot").exists()


def test_the_step_form_shows_config_errors_on_the_config_field(staff, tenant):
    response = add_page_with_step(
        staff, tenant, order="1", code="x", handler_path=MESSAGE, config='{"texto": "oi"}'
    )
    errors = response.context["inline_admin_formsets"][0].formset.errors[0]
    assert "texto" in str(errors["config"])


def test_steps_are_changed_and_deleted_through_the_inline(staff, bot):
    first = bots.step_create(chatbot=bot, code="a", handler_path=END, order=1, config={})
    second = bots.step_create(chatbot=bot, code="b", handler_path=END, order=2, config={})
    url = f"{ADMIN}/chatbot/{bot.pk}/change/"
    response = staff.get(url)
    forms_ = response.context["inline_admin_formsets"][0].formset.forms
    assert [f.instance.code for f in forms_[:2]] == ["a", "b"]  # in order
    data = page_data(response)
    data.update({"steps-0-order": "3", "steps-1-DELETE": "on"})
    assert staff.post(url, data).status_code == 302
    first.refresh_from_db()
    assert first.order == 3
    assert not Step.objects.filter(pk=second.pk).exists()


def test_the_plan_limit_is_shown_on_the_add_form(staff, tenant, bot):
    subscription_start(tenant=tenant, plan=PlanFactory(name="Básico", max_chatbots=1))
    response = add_page_with_step(staff, tenant)
    assert response.status_code == 200
    assert "Seu plano Básico permite 1 chatbot(s)" in response.content.decode()
    assert Chatbot.objects.filter(tenant=tenant).count() == 1


# --- Conversations ----------------------------------------------------------------------------


def test_an_agent_takes_a_conversation_over_but_cannot_edit_bots(client, tenant, bot):
    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    client.force_login(agent)
    conv = conversation(bot, current_step="menu", state={"x": 1})
    url = f"{ADMIN}/conversation/{conv.pk}/change/"
    response = client.post(url, page_data(client.get(url), status="human"))
    assert response.status_code == 302
    conv.refresh_from_db()
    assert (conv.status, conv.current_step, conv.state) == ("human", "menu", {"x": 1})

    bot_url = f"{ADMIN}/chatbot/{bot.pk}/change/"
    assert client.post(bot_url, {"name": "hack"}).status_code == 403
    bot.refresh_from_db()
    assert bot.name == "Bot da Padaria"


def test_a_conversation_shows_its_latest_messages_oldest_first(staff, bot):
    conv = conversation(bot)
    for i in range(60):
        message(conv, f"msg-{i:03d}")
    html = staff.get(f"{ADMIN}/conversation/{conv.pk}/change/").content.decode()
    assert "msg-009" not in html  # beyond the 50 newest
    assert html.index("msg-010") < html.index("msg-058") < html.index("msg-059")


# --- Actions --------------------------------------------------------------------------------


def test_process_again_puts_events_back_to_pending(staff, bot, django_capture_on_commit_callbacks):
    failed = event(bot, "wamid.falhou", state=InboundEvent.State.FAILED, last_error="boom")
    with django_capture_on_commit_callbacks(execute=False):
        response = staff.post(
            f"{ADMIN}/inboundevent/", {"action": "requeue", "_selected_action": [failed.pk]}
        )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == InboundEvent.State.PENDING


def test_retry_puts_failed_outbound_messages_back_in_the_queue(
    staff, bot, django_capture_on_commit_callbacks
):
    conv = conversation(bot)
    failed = message(
        conv, "sua entrega", direction="out", status=Message.Status.FAILED, error_code="131047"
    )
    inbound = message(conv, "oi")
    with django_capture_on_commit_callbacks(execute=False):
        response = staff.post(
            f"{ADMIN}/message/",
            {"action": "retry", "_selected_action": [failed.pk, inbound.pk]},
        )
    assert response.status_code == 302
    failed.refresh_from_db()
    inbound.refresh_from_db()
    assert (failed.status, failed.error_code) == (Message.Status.QUEUED, "")
    assert inbound.status == Message.Status.RECEIVED


def test_messages_filter_by_error_code(staff, bot):
    conv = conversation(bot)
    message(conv, "falhou-131047", direction="out", status="failed", error_code="131047")
    message(conv, "falhou-130429", direction="out", status="failed", error_code="130429")
    html = staff.get(f"{ADMIN}/message/?error_code=131047").content.decode()
    assert "falhou-131047" in html and "falhou-130429" not in html
    assert "?error_code=130429" in html  # offered as a choice


# --- Cheap lists -----------------------------------------------------------------------------


def fill(bot, n: int) -> None:
    for i in range(n):
        conv = conversation(bot)
        message(conv, f"m{i}")
        message(conv, f"r{i}", direction="out", status="failed", error_code="131026")
        event(bot, f"wamid.{bot.pk}.{i}.{timezone.now().timestamp()}")


def changelist_queries(client, model: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"{ADMIN}/{model}/")
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("model", ["conversation", "message", "inboundevent", "chatbot"])
def test_changelist_queries_do_not_grow_with_rows(staff, bot, model):
    fill(bot, 3)
    few = changelist_queries(staff, model)
    fill(bot, 27)
    many = changelist_queries(staff, model)
    assert len(many) == len(few), "\n".join(many)
    if model == "chatbot":
        return  # one row per WhatsApp number: a small table
    for sql in many:
        # Never a COUNT(*) over a whole big table: each count is bounded by a LIMIT ...
        if "COUNT(" in sql.upper():
            assert "LIMIT" in sql.upper(), sql
        # ... nor a DISTINCT for filter choices, unless bounded to recent rows by an index.
        if "DISTINCT" in sql.upper():
            assert '"created_at" >=' in sql, sql


def test_the_paginator_estimates_unfiltered_and_caps_filtered_counts(bot, monkeypatch):
    conv = conversation(bot)
    for i in range(12):
        message(conv, f"m{i}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chatbots_message")
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 5)
    assert LargeTablePaginator(Message.objects.all(), 100).count == 12  # pg_class estimate
    filtered = Message.objects.filter(conversation=conv)
    assert LargeTablePaginator(filtered, 100).count == 5


def test_a_superuser_sees_every_tenant(client, bot, other_bot):
    client.force_login(UserFactory(is_superuser=True))
    html = client.get(f"{ADMIN}/chatbot/").content.decode()
    assert "Bot da Padaria" in html and "Bot da Clínica" in html


def test_an_agent_cannot_reprocess_events(client, tenant, bot):
    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    client.force_login(agent)
    failed = event(bot, "wamid.falhou", state=InboundEvent.State.FAILED)
    assert "requeue" not in client.get(f"{ADMIN}/inboundevent/").content.decode()
    client.post(f"{ADMIN}/inboundevent/", {"action": "requeue", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.state == InboundEvent.State.FAILED


def test_deleting_a_bot_asks_without_listing_its_messages(staff, bot):
    conv = conversation(bot)
    for i in range(3):
        message(conv, f"apagar-{i}")
    url = f"{ADMIN}/chatbot/{bot.pk}/delete/"
    html = staff.get(url).content.decode()
    assert "Bot da Padaria" in html and "apagar-0" not in html
    assert staff.post(url, {"post": "yes"}).status_code == 302
    assert not Message.objects.filter(conversation__chatbot_id=bot.pk).exists()


def test_templates_added_under_a_bot_belong_to_its_tenant(staff, bot):
    url = f"{ADMIN}/chatbot/{bot.pk}/change/"
    data = page_data(staff.get(url))
    data.update(
        {
            "templates-TOTAL_FORMS": "1",
            "templates-0-name": "lembrete_consulta",
            "templates-0-language": "pt_BR",
            "templates-0-param_count": "2",
            "templates-0-purpose": "reminder",
            "templates-0-approved": "on",
        }
    )
    assert staff.post(url, data).status_code == 302
    template = bot.templates.get()
    assert (template.name, template.tenant_id) == ("lembrete_consulta", bot.tenant_id)


def test_saving_a_flow_with_a_dangling_next_step_warns(staff, tenant):
    response = add_page_with_step(
        staff,
        tenant,
        order="1",
        code="inicio",
        handler_path=MESSAGE,
        config='{"text": "Olá!", "next": "cardapio"}',
    )
    assert response.status_code == 302
    html = staff.get(response.url).content.decode()
    assert "cardapio" in html and "não existe" in html


def test_an_owner_deletes_conversations_with_their_messages(staff, bot):
    convs = [conversation(bot) for _ in range(2)]
    message(convs[0], "tchau")
    response = staff.post(
        f"{ADMIN}/conversation/",
        {"action": "delete_selected", "_selected_action": [c.pk for c in convs], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Conversation.objects.filter(chatbot=bot).exists()
    assert not Message.objects.filter(tenant=bot.tenant).exists()


def test_a_view_only_agent_sees_whether_secrets_are_set_never_their_values(client, tenant, bot):
    client.force_login(MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user)
    response = client.get(f"{ADMIN}/chatbot/{bot.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    for secret in (TOKEN, APP_SECRET, API_KEY):
        assert secret not in html
    assert "Bot da Padaria" in html and "definido" in html
