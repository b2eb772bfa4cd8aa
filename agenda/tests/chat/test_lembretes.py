"""Reminders (24 h and 1 h before), no-shows and the satisfaction follow-up, driven by the
periodic tasks on a controlled clock, with the customer's answers through the webhook."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agenda import notifications
from agenda.models import Agendamento, FeedbackEvent
from agenda.tasks import bulk_mark_no_shows, bulk_send_followups, bulk_send_reminders
from agenda.tests.chat.whatsapp import MARIA, PNID, make_bot
from agenda.tests.conftest import AGORA, SEGUNDA, em, marcar
from agenda.tests.test_selectors import marcar_em_massa
from chatbots.models import Conversation, Message
from clientes.models import Cliente
from tests import meta
from tests.conversation import body_text, buttons, next_timestamp
from tests.factories import ClienteFactory, MessageTemplateFactory

TERCA = SEGUNDA + timedelta(days=1)
HORA = timedelta(hours=1)


def approved_template(bot, name: str, purpose: str, *, params: int):
    """A template Meta approved for `bot`, registered for `purpose` (notifications.TEMPLATE_*)."""
    return MessageTemplateFactory(chatbot=bot, name=name, param_count=params, purpose=purpose)


@pytest.fixture
def tick(fake_graph, django_capture_on_commit_callbacks, celery_eager):
    """Run one beat tick of a task; return what Meta was asked to send."""

    def _tick(task):
        before = len(fake_graph.sends)
        with django_capture_on_commit_callbacks(execute=True):
            task.delay()
        return [r.json for r in fake_graph.sends[before:]]

    return _tick


def test_24h_and_1h_reminders_go_once_each_however_many_ticks(
    agora, chat, tick, tenant, agenda_interna, servico, cliente
):
    chat.text("oi")  # the customer wrote: WhatsApp's 24-hour window is open
    marcado = marcar(tenant, cliente, servico, em(TERCA, "10:00"), status="pendente")

    assert tick(bulk_send_reminders) == []  # 26 hours ahead: not yet

    agora.move_to(em(SEGUNDA, "10:05"))
    (lembrete,) = tick(bulk_send_reminders)
    assert tick(bulk_send_reminders) == []
    assert body_text(lembrete).startswith("Olá, Maria! Lembrete do seu horário: *Consulta*")
    assert "amanhã (Ter 05/03) às 10:00" in body_text(lembrete)
    assert buttons(lembrete) == [
        (f"ag:confirmar:{marcado.pk}", "Confirmar"),
        (f"ag:reagendar:{marcado.pk}", "Reagendar"),
        (f"ag:cancelar:{marcado.pk}", "Cancelar"),
    ]
    chat.tap(f"ag:confirmar:{marcado.pk}", "Confirmar")

    agora.move_to(em(TERCA, "09:05"))
    (lembrete_1h,) = tick(bulk_send_reminders)
    assert tick(bulk_send_reminders) == []
    assert tick(bulk_send_reminders) == []
    assert "hoje às 10:00" in body_text(lembrete_1h)
    marcado.refresh_from_db()
    assert marcado.status == Agendamento.Status.CONFIRMADO
    assert marcado.lembrete_24h_enviado_em == em(SEGUNDA, "10:05")
    assert marcado.lembrete_1h_enviado_em == em(TERCA, "09:05")


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_the_same_moment_send_each_reminder_once(
    agora, tenant, servico, fake_graph, celery_eager
):
    bot = make_bot(tenant)
    due = []
    for i in range(6):
        cliente = ClienteFactory(tenant=tenant, telefone=f"551190000{i:04d}")
        Conversation.objects.create(
            tenant=tenant, chatbot=bot, cliente=cliente, last_customer_message_at=AGORA
        )
        due.append(marcar(tenant, cliente, servico, AGORA + (2 + i) * HORA))
    barrier = threading.Barrier(2)
    errors = []

    def beat():
        try:
            barrier.wait()
            notifications.lembretes_send()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert not errors, errors
    sent_to = sorted(r.json["to"] for r in fake_graph.sends)
    assert sent_to == sorted(f"+{a.cliente.telefone}" for a in due)
    assert Message.objects.filter(direction="out").count() == 6


def test_outside_the_window_the_approved_reminder_template_goes(
    agora, tick, tenant, agenda_interna, servico, cliente
):
    bot = make_bot(tenant)  # the customer never wrote to it
    approved_template(bot, "lembrete_horario", notifications.TEMPLATE_LEMBRETE, params=4)
    marcar(tenant, cliente, servico, em(SEGUNDA, "15:00"))

    (enviado,) = tick(bulk_send_reminders)

    assert enviado["type"] == "template"
    assert enviado["template"]["name"] == "lembrete_horario"
    params = [p["text"] for p in enviado["template"]["components"][0]["parameters"]]
    assert params == ["Maria", "Consulta", "Seg 04/03", "15:00"]


def test_outside_the_window_without_a_template_it_is_recorded_as_not_sent(
    agora, tick, tenant, agenda_interna, servico, cliente
):
    make_bot(tenant)
    marcado = marcar(tenant, cliente, servico, em(SEGUNDA, "15:00"))

    assert tick(bulk_send_reminders) == []
    assert tick(bulk_send_reminders) == []

    (registro,) = Message.objects.filter(direction="out")
    assert registro.status == Message.Status.FAILED
    assert registro.error_code == "outside_24h_window"
    marcado.refresh_from_db()
    assert marcado.lembrete_24h_enviado_em == AGORA  # claimed: not retried every 5 minutes


def test_the_reminder_task_costs_the_same_queries_with_100_000_other_appointments(
    agora, tenant, servico, cliente, celery_eager
):
    bot = make_bot(tenant)
    Conversation.objects.create(
        tenant=tenant, chatbot=bot, cliente=cliente, last_customer_message_at=AGORA
    )
    due = [marcar(tenant, cliente, servico, AGORA + (2 + i) * HORA) for i in range(3)]
    due += [marcar(tenant, cliente, servico, AGORA + timedelta(minutes=30))]  # the 1 h one

    def run():
        Agendamento.objects.filter(pk__in=[a.pk for a in due]).update(
            lembrete_24h_enviado_em=None, lembrete_1h_enviado_em=None
        )
        with CaptureQueriesContext(connection) as queries:
            enviados = bulk_send_reminders.delay().get()
        return enviados, len(queries)

    run()  # warm-up: anything cached per process is cached now
    pequeno = run()
    marcar_em_massa(tenant, cliente, servico)
    grande = run()

    assert Agendamento.objects.count() == 100_004
    assert pequeno == grande
    assert pequeno[0] == {"24h": 3, "1h": 1}


def test_a_no_show_is_marked_and_offered_to_book_again_once(
    agora, chat, tick, tenant, agenda_interna, servico, cliente
):
    chat.text("oi")
    faltou = marcar(tenant, cliente, servico, AGORA - 2 * HORA)  # ended 1h30 ago, no one came
    veio = marcar(tenant, cliente, servico, AGORA - 3 * HORA, status="concluido")

    (mensagem,) = tick(bulk_mark_no_shows)
    assert tick(bulk_mark_no_shows) == []

    faltou.refresh_from_db()
    veio.refresh_from_db()
    assert faltou.status == Agendamento.Status.NAO_COMPARECEU
    assert veio.status == Agendamento.Status.CONCLUIDO
    assert "Sentimos sua falta" in body_text(mensagem)
    assert buttons(mensagem) == [(f"ag:remarcar:{faltou.pk}", "Marcar de novo")]

    chat.tap(f"ag:remarcar:{faltou.pk}", "Marcar de novo")

    assert "*Consulta*: escolha o dia." in body_text(chat.last)
    assert Conversation.objects.get().current_step == "agenda_dia"


def test_a_customer_who_opted_out_gets_the_reminder_but_no_offer_or_survey(
    agora, chat, tick, tenant, agenda_interna, servico, cliente
):
    chat.text("oi")
    Cliente.objects.filter(pk=cliente.pk).update(optout_em=AGORA)  # said SAIR
    marcar(tenant, cliente, servico, AGORA + 5 * HORA)
    marcar(tenant, cliente, servico, AGORA - 2 * HORA)
    marcar(tenant, cliente, servico, AGORA - 3 * HORA, status="concluido", compareceu=True)

    assert len(tick(bulk_send_reminders)) == 1  # about their own booking: still sent
    assert tick(bulk_mark_no_shows) == []
    assert tick(bulk_send_followups) == []

    recusadas = Message.objects.filter(direction="out", status="failed")
    assert sorted(recusadas.values_list("error_code", flat=True)) == ["opted_out", "opted_out"]


def test_the_follow_up_records_the_score_and_the_comment_once(
    agora, chat, tick, tenant, agenda_interna, servico, cliente
):
    chat.text("oi")
    atendido = marcar(
        tenant, cliente, servico, AGORA - 2 * HORA, status="concluido", compareceu=True
    )

    (pergunta,) = tick(bulk_send_followups)
    assert tick(bulk_send_followups) == []
    assert "Como foi seu atendimento de *Consulta*?" in body_text(pergunta)
    assert buttons(pergunta) == [
        (f"fb:5:{atendido.pk}", "😀 Ótimo"),
        (f"fb:3:{atendido.pk}", "🙂 Bom"),
        (f"fb:1:{atendido.pk}", "😞 Ruim"),
    ]

    chat.tap(f"fb:5:{atendido.pk}", "😀 Ótimo")
    assert "Obrigado pela avaliação" in body_text(chat.last)
    chat.text("Adorei, foram muito atenciosos")
    assert body_text(chat.last) == "Obrigado pelo comentário! 🙏"
    chat.text("oi")  # the conversation carries on as usual
    assert [t for _i, t in buttons(chat.last)] == ["Agendar", "Meu horário", "Encerrar"]

    feedback = FeedbackEvent.objects.get()
    assert (feedback.agendamento, feedback.nota) == (atendido, 5)
    assert feedback.comentario == "Adorei, foram muito atenciosos"
    assert feedback.recebido_em == AGORA


def test_send_reminder_now_from_the_api_and_the_admin(
    agora,
    chat,
    fake_graph,
    key_client,
    client,
    owner,
    tenant,
    agenda_interna,
    servico,
    cliente,
    django_capture_on_commit_callbacks,
):
    chat.text("oi")
    marcado = marcar(tenant, cliente, servico, em(TERCA, "16:00"))
    passado = marcar(tenant, cliente, servico, AGORA - 3 * HORA, status="concluido")
    before = len(fake_graph.sends)

    with django_capture_on_commit_callbacks(execute=True):
        resposta = key_client.post(f"/api/agenda/agendamentos/{marcado.pk}/lembrar/")
    recusada = key_client.post(f"/api/agenda/agendamentos/{passado.pk}/lembrar/")
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/agenda/agendamento/",
            {"action": "acao_lembrar", "_selected_action": [marcado.pk]},
        )

    assert resposta.status_code == 202
    assert resposta.json()["status"] == "queued"
    assert recusada.status_code == 400
    lembretes = [r.json for r in fake_graph.sends[before:]]
    assert len(lembretes) == 2
    assert all(f"ag:confirmar:{marcado.pk}" in dict(buttons(b)) for b in lembretes)
    marcado.refresh_from_db()
    assert marcado.lembrete_24h_enviado_em is None  # the automatic ones still go


def test_a_tap_on_the_reminder_template_confirms_the_next_appointment(
    agora, chat, tick, tenant, bot_agenda, agenda_interna, servico, cliente
):
    """Outside the 24-hour window the reminder is a template, whose quick-reply buttons carry
    a fixed payload, not the appointment: the tap answering it acts on the next one."""
    approved_template(bot_agenda, "lembrete_horario", notifications.TEMPLATE_LEMBRETE, params=0)
    marcado = marcar(tenant, cliente, servico, em(SEGUNDA, "15:00"), status="pendente")
    tick(bulk_send_reminders)
    wamid = _template_sent()
    assert wamid

    _tap_on_template(chat, wamid, "Confirmar")

    marcado.refresh_from_db()
    assert marcado.status == Agendamento.Status.CONFIRMADO
    assert "está confirmado" in body_text(chat.last)


def _tap_on_template(chat, wamid: str, title: str) -> None:
    """The customer taps a quick-reply button of the template message `wamid`."""
    chat.post(
        meta.envelope(
            PNID,
            contacts=[{"profile": {"name": "Maria"}, "wa_id": MARIA}],
            messages=[
                {
                    "from": MARIA,
                    "id": meta.wamid(),
                    "timestamp": str(next_timestamp()),
                    "type": "button",
                    "context": {"from": "5511900000000", "id": wamid},
                    "button": {"text": title, "payload": title},
                }
            ],
        )
    )


def _template_sent() -> str:
    return Message.objects.get(direction="out", type="template").provider_message_id


def test_outside_the_window_the_no_show_offer_is_its_template_and_a_tap_books_again(
    agora, chat, tick, tenant, bot_agenda, agenda_interna, servico, cliente
):
    approved_template(bot_agenda, "sentimos_sua_falta", notifications.TEMPLATE_NO_SHOW, params=2)
    faltou = marcar(tenant, cliente, servico, AGORA - 2 * HORA)  # the customer never wrote

    (enviado,) = tick(bulk_mark_no_shows)

    assert enviado["type"] == "template"
    assert enviado["template"]["name"] == "sentimos_sua_falta"
    params = [p["text"] for p in enviado["template"]["components"][0]["parameters"]]
    assert params == ["Maria", "Consulta"]
    faltou.refresh_from_db()
    assert faltou.status == Agendamento.Status.NAO_COMPARECEU

    _tap_on_template(chat, _template_sent(), "Marcar de novo")

    assert "*Consulta*: escolha o dia." in body_text(chat.last)


def test_outside_the_window_the_survey_is_its_template_and_a_tap_records_the_score(
    agora, chat, tick, tenant, bot_agenda, agenda_interna, servico, cliente
):
    approved_template(bot_agenda, "como_foi", notifications.TEMPLATE_FOLLOWUP, params=2)
    atendido = marcar(
        tenant, cliente, servico, AGORA - 2 * HORA, status="concluido", compareceu=True
    )

    (enviado,) = tick(bulk_send_followups)
    assert enviado["template"]["name"] == "como_foi"

    _tap_on_template(chat, _template_sent(), "Bom")

    assert "Obrigado pela avaliação" in body_text(chat.last)
    feedback = FeedbackEvent.objects.get()
    assert (feedback.agendamento, feedback.nota) == (atendido, 3)


def test_outside_the_window_without_templates_offer_and_survey_are_recorded_as_not_sent(
    agora, tick, tenant, bot_agenda, agenda_interna, servico, cliente
):
    marcar(tenant, cliente, servico, AGORA - 2 * HORA)
    marcar(tenant, cliente, servico, AGORA - 3 * HORA, status="concluido", compareceu=True)

    assert tick(bulk_mark_no_shows) == []
    assert tick(bulk_send_followups) == []

    codes = Message.objects.filter(direction="out").values_list("status", "error_code")
    assert sorted(codes) == [("failed", "outside_24h_window")] * 2


def test_reminders_no_shows_and_surveys_are_counted_for_the_operators(
    agora, chat, tick, tenant, agenda_interna, servico, cliente
):
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (
        value("agenda_reminders_total", kind="24h"),
        value("agenda_no_shows_total"),
        value("agenda_surveys_total"),
    )
    chat.text("oi")
    marcar(tenant, cliente, servico, em(TERCA, "10:00"))
    marcar(tenant, cliente, servico, AGORA - 2 * HORA)
    marcar(tenant, cliente, servico, AGORA - 3 * HORA, status="concluido", compareceu=True)

    tick(bulk_mark_no_shows)
    tick(bulk_send_followups)
    agora.move_to(em(SEGUNDA, "10:05"))
    tick(bulk_send_reminders)

    after = (
        value("agenda_reminders_total", kind="24h"),
        value("agenda_no_shows_total"),
        value("agenda_surveys_total"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]
