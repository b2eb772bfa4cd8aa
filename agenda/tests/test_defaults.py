"""Starting points: `bind_tenant --flow agenda` gives a tenant without an agenda the
built-in calendar, and the demo gets its agenda bot, services and hours."""

from datetime import time
from io import StringIO

from django.core.management import call_command

from agenda.models import ConfiguracaoAgenda, HorarioFuncionamento, Servico
from agenda.services import configuracao_set
from chatbots import starter_flows
from chatbots.models import Chatbot


def bind(tenant, pnid="777001") -> str:
    out = StringIO()
    call_command(
        "bind_tenant",
        "--tenant",
        tenant.slug,
        "--phone-number-id",
        pnid,
        "--flow",
        "agenda",
        stdout=out,
    )
    return out.getvalue()


def test_bind_tenant_installs_the_agenda_flow_and_a_default_calendar_once(tenant):
    first = bind(tenant)
    second = bind(tenant)

    bot = Chatbot.objects.get(phone_number_id="777001")
    assert list(bot.steps.order_by("order").values_list("code", flat=True)) == [
        "inicio",
        "agenda_servico",
        "agenda_dia",
        "agenda_horario",
        "agenda_confirmar",
        "agenda_meu_horario",
    ]
    assert "Agenda configurada" in first and "segunda a sexta" in first
    assert "Agenda configurada" not in second
    assert ConfiguracaoAgenda.objects.get(tenant=tenant).fonte == "interna"
    assert sorted(
        HorarioFuncionamento.objects.filter(tenant=tenant).values_list(
            "dia_semana", "abre", "fecha"
        )
    ) == [(dia, time(9), time(18)) for dia in range(5)]


def test_bind_tenant_leaves_an_existing_agenda_alone(tenant):
    configuracao_set(tenant=tenant, fonte="calcom", cal_api_key="cal_x")

    out = bind(tenant)

    assert "Agenda configurada" not in out
    assert ConfiguracaoAgenda.objects.get(tenant=tenant).fonte == "calcom"
    assert not HorarioFuncionamento.objects.filter(tenant=tenant).exists()


def test_the_demo_gets_an_agenda_bot_with_services_and_hours_idempotently(tenant):
    starter_flows.install_demo(tenant)
    starter_flows.install_demo(tenant)

    agenda_bot = Chatbot.objects.get(tenant=tenant, name="Demo Agenda")
    assert agenda_bot.steps.filter(code="agenda_dia").exists()
    # The demo's three bots: menu, orders, agenda (chatbots.starter_flows.DEMO_BOTS).
    assert Chatbot.objects.filter(tenant=tenant).count() == 3
    assert sorted(Servico.objects.filter(tenant=tenant).values_list("nome", "duracao_minutos")) == [
        ("Barba", 20),
        ("Corte de cabelo", 30),
    ]
    # The demo store opens every day (pedidos.demo.SEMANA).
    assert HorarioFuncionamento.objects.filter(tenant=tenant).count() == 7


def test_the_agenda_jobs_are_scheduled_on_the_bulk_queue(db):
    from django_celery_beat.models import PeriodicTask

    call_command("setup_periodic_tasks", stdout=StringIO())
    call_command("setup_periodic_tasks", stdout=StringIO())  # idempotent

    agendadas = {
        t.task: (
            t.interval.every if t.interval else f"{t.crontab.hour}:{t.crontab.minute}",
            t.queue,
        )
        for t in PeriodicTask.objects.filter(task__startswith="agenda.tasks.")
    }
    assert agendadas == {
        "agenda.tasks.bulk_send_reminders": (300, "bulk"),
        "agenda.tasks.bulk_mark_no_shows": (900, "bulk"),
        "agenda.tasks.bulk_send_followups": (300, "bulk"),
        "agenda.tasks.bulk_no_show_risk": (900, "bulk"),
        "agenda.tasks.bulk_fit_no_show_models": ("3:50", "bulk"),  # nightly
    }
