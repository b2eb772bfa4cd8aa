from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from chatbots.models import Chatbot, Conversation, Message


def cmd(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_bind_tenant_creates_a_bot_with_the_starter_menu_and_prints_its_id(tenant):
    out = cmd(
        "bind_tenant",
        "--tenant",
        tenant.slug,
        "--provider",
        "meta",
        "--phone-number-id",
        "555001",
        "--waba-id",
        "WABA9",
        "--display-number",
        "5511900001111",
        "--access-token",
        "EAAG-secret-token",
        "--app-secret",
        "s3cr3t",
        "--verify-token",
        "vt-1",
        "--flow",
        "menu",
    )
    bot = Chatbot.objects.get(phone_number_id="555001")
    assert out.strip().splitlines()[-1] == str(bot.pk)
    assert bot.tenant == tenant
    assert bot.access_token == "EAAG-secret-token"
    assert list(bot.steps.order_by("order").values_list("code", flat=True)) == [
        "inicio",
        "informacoes",
        "atendente",
        "fim",
    ]
    assert "EAAG-secret-token" not in out and "s3cr3t" not in out


def test_bind_tenant_again_updates_the_same_bot(tenant):
    args = ["bind_tenant", "--tenant", tenant.slug, "--phone-number-id", "555002", "--flow", "menu"]
    first = cmd(*args).strip().splitlines()[-1]
    second = cmd(*args, "--verify-token", "novo").strip().splitlines()[-1]
    assert first == second
    assert Chatbot.objects.count() == 1
    assert Chatbot.objects.get().verify_token == "novo"


def test_bind_tenant_refuses_a_number_bound_to_another_tenant(tenant, other_tenant):
    cmd("bind_tenant", "--tenant", tenant.slug, "--phone-number-id", "555003")
    with pytest.raises(CommandError, match="another tenant"):
        cmd("bind_tenant", "--tenant", other_tenant.slug, "--phone-number-id", "555003")


def test_bind_tenant_names_the_flows_that_exist(tenant):
    with pytest.raises(CommandError, match="Available: menu, pedidos"):
        cmd("bind_tenant", "--tenant", tenant.slug, "--phone-number-id", "1", "--flow", "nada")


def test_simulate_drives_a_message_through_the_pipeline_and_prints_the_replies(tenant):
    bot_id = (
        cmd(
            "bind_tenant",
            "--tenant",
            tenant.slug,
            "--provider",
            "stub",
            "--display-number",
            "5511900002222",
            "--flow",
            "menu",
        )
        .strip()
        .splitlines()[-1]
    )

    out = cmd("simulate", "--bot", bot_id, "--phone", "(11) 98765-4321", "oi")
    assert "Como posso ajudar" in out
    assert "1. Horário e endereço" in out

    out = cmd("simulate", "--bot", bot_id, "--phone", "5511987654321", "1")
    assert "segunda a sábado" in out

    conv = Conversation.objects.get()
    assert conv.cliente.telefone == "5511987654321"
    assert conv.current_step == "informacoes"
    assert set(conv.messages.filter(direction="out").values_list("status", flat=True)) == {
        Message.Status.SENT
    }


def test_simulate_never_sends_a_real_providers_replies_unless_asked(tenant):
    bot_id = (
        cmd(
            "bind_tenant",
            "--tenant",
            tenant.slug,
            "--phone-number-id",
            "555004",
            "--flow",
            "menu",
        )
        .strip()
        .splitlines()[-1]
    )
    out = cmd("simulate", "--bot", bot_id, "--phone", "5511987654321", "oi")
    assert "Como posso ajudar" in out
    msg = Message.objects.get(direction="out")
    assert msg.status == Message.Status.FAILED
    assert msg.error_code == "simulation"


def test_list_bindings_and_conversations_never_print_secrets_or_full_phones(tenant):
    cmd(
        "bind_tenant",
        "--tenant",
        tenant.slug,
        "--provider",
        "stub",
        "--display-number",
        "1",
        "--access-token",
        "TOKEN-XYZ",
        "--flow",
        "menu",
    )
    bot = Chatbot.objects.get()
    cmd("simulate", "--bot", str(bot.pk), "--phone", "5511987654321", "oi")
    listing = cmd("list_bindings") + cmd("list_conversations", "--tenant", tenant.slug)
    assert "TOKEN-XYZ" not in listing
    assert "5511987654321" not in listing
    assert "*********4321" in listing


def test_send_test_sends_inside_the_window_and_refuses_outside_it(tenant, fake_graph):
    from django.utils import timezone

    bot_id = (
        cmd(
            "bind_tenant",
            "--tenant",
            tenant.slug,
            "--phone-number-id",
            "555010",
            "--access-token",
            "tok",
            "--flow",
            "menu",
        )
        .strip()
        .splitlines()[-1]
    )

    out = cmd("send_test", "--bot", bot_id, "--to", "(11) 98765-4321", "--text", "Olá!")
    assert "failed outside_24h_window" in out
    assert fake_graph.sends == []

    Conversation.objects.filter(cliente__telefone="5511987654321").update(
        last_customer_message_at=timezone.now()
    )
    out = cmd("send_test", "--bot", bot_id, "--to", "5511987654321", "--text", "Olá de novo!")
    assert ": sent" in out
    assert [s.json["text"]["body"] for s in fake_graph.sends] == ["Olá de novo!"]
    assert fake_graph.sends[0].json["to"] == "+5511987654321"
