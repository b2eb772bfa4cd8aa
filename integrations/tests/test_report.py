"""The monthly report: the PDF of a month renders (pdftoppm) and shows the dashboard's
figures (pdftotext); owners get it by email on the 1st; owners and admins download it."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from agenda.models import Agendamento, Servico
from billing.models import DailyUsage, Membership, Subscription
from billing.services import subscription_start
from chatbots.models import Chatbot, Conversation, Message
from inbox.models import Ticket
from inbox.services import queue_default
from integrations import report, report_tasks
from integrations.models import MonthlyReport
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests.factories import ClienteFactory, MembershipFactory, PlanFactory, UserFactory

SP = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SP)
NOVEMBER = datetime(2026, 11, 1, tzinfo=SP)

pytestmark = pytest.mark.skipif(
    not shutil.which("pdftoppm") or not shutil.which("pdftotext"),
    reason="poppler-utils (pdftoppm, pdftotext) is installed by run_tests.sh",
)


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=SP)


def _build(tenant):
    sub = subscription_start(tenant=tenant, plan=PlanFactory(name="Mensal"))
    Subscription.objects.filter(pk=sub.pk).update(
        current_period_start=NOVEMBER, current_period_end=datetime(2026, 12, 1, tzinfo=SP)
    )
    for day, (n_in, n_out, tokens, cost) in {
        datetime(2026, 10, 31).date(): (900, 900, 9000, "90"),  # October: left out
        _at(3).date(): (1200, 1340, 5100, "127.15"),
        _at(10).date(): (35, 41, 700, "3.85"),
    }.items():
        DailyUsage.objects.create(
            tenant=tenant,
            day=day,
            messages_in=n_in,
            messages_out=n_out,
            ai_tokens=tokens,
            estimated_cost=Decimal(cost),
        )
    cliente = ClienteFactory(tenant=tenant)
    bot = Chatbot.objects.create(tenant=tenant, name="Bot")
    conversation = Conversation.objects.create(tenant=tenant, chatbot=bot, cliente=cliente)
    for day, intent, delay in [
        (4, "pedido", 3),
        (4, "pedido", 5),
        (6, "agendamento", 2),
        (8, "suporte", None),
    ]:
        inbound = Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            direction="in",
            status="received",
            intent=intent,
        )
        Message.objects.filter(pk=inbound.pk).update(created_at=_at(day))
        if delay is not None:
            out = Message.objects.create(
                tenant=tenant, conversation=conversation, direction="out", status="sent"
            )
            Message.objects.filter(pk=out.pk).update(
                created_at=_at(day), sent_at=_at(day) + timedelta(seconds=delay)
            )
    for total, status, when in [
        ("89.90", StatusPedido.ENTREGUE, _at(5)),
        ("1234.60", StatusPedido.CONFIRMADO, _at(12)),
        ("50.00", StatusPedido.CANCELADO, _at(12)),
        ("40.00", StatusPedido.ENTREGUE, datetime(2026, 10, 30, tzinfo=SP)),
    ]:
        Pedido.objects.create(
            tenant=tenant, cliente=cliente, status=status, total=Decimal(total), confirmado_em=when
        )
    servico = Servico.objects.create(tenant=tenant, nome="Consulta", duracao_minutos=30)
    for i, status in enumerate(
        ["concluido", "concluido", "concluido", "nao_compareceu", "cancelado", "confirmado"]
    ):
        start = _at(9 + i * 2)
        Agendamento.objects.create(
            tenant=tenant,
            cliente=cliente,
            servico=servico,
            inicio=start,
            fim=start + timedelta(minutes=30),
            status=status,
            origem="admin",
        )
    agent = UserFactory(first_name="Joana", last_name="Lima")
    MembershipFactory(tenant=tenant, user=agent, role=Membership.Role.AGENT)
    queue = queue_default(tenant.pk)
    for day, first, resolution in [(7, 90, 600), (14, 150, 1200)]:
        ticket = Ticket.objects.create(
            tenant=tenant, conversation=conversation, queue=queue, assigned_to=agent
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            status=Ticket.Status.CLOSED,
            outcome=Ticket.Outcome.CLOSED,
            opened_at=_at(day),
            first_response_at=_at(day) + timedelta(seconds=first),
            closed_at=_at(day) + timedelta(seconds=resolution),
        )


def _dashboard_figures(client, tenant) -> list[str]:
    page = client.get(f"/admin/billing/tenant/{tenant.pk}/dashboard/").content.decode()
    values = re.findall(r'<div class="value">(.*?)</div>', page, re.S)
    agents = re.search(r'<table class="attendance-1">.*?</table>', page, re.S).group(0)
    cells = re.findall(r"<td>(.*?)</td>", agents, re.S)
    return [html.unescape(" ".join(v.split())) for v in values + cells]


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "relatorio.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages and all(p.stat().st_size > 1000 for p in pages)  # every page rendered
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(text.split())


@time_machine.travel(NOW, tick=False)
def test_the_pdf_renders_and_shows_the_dashboards_figures(tenant, owner, client, tmp_path):
    _build(tenant)
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    figures = _dashboard_figures(client, tenant)
    # The page's own figures, as a person reads them (the fixture's, by hand):
    assert figures == [
        *("2.616", "5.800", "R$ 131,00", "3,3 s", "2", "5"),  # messages ... appointments
        *("2", "120 s", "900 s"),  # attendance: handled, first response, resolution
        *("Joana Lima", "2", "2", "120 s", "900 s"),  # the agents' table
    ]

    months = client.get(f"/admin/integrations/monthlyreport/tenant/{tenant.pk}/").content.decode()
    link = re.search(r'href="([^"]+2026-11\.pdf)"', months).group(1)
    answer = client.get(link)
    assert answer["Content-Type"] == "application/pdf"
    assert "relatorio-padaria-2026-11.pdf" in answer["Content-Disposition"]
    text = _pdf_text(answer.content, tmp_path)

    for figure in figures:
        assert figure in text, figure
    assert "Valor dos pedidos R$ 1324,50" in text  # the orders card's hint
    assert "Relatório mensal: Padaria Pão Quente" in text
    assert "Novembro de 2026 · 01/11/2026 a 30/11/2026" in text
    # Top intents, in order, with their counts.
    assert re.search(r"Pedido 2 Agendamento 1 Suporte 1", text)
    assert "comparecimento 75%" in text
    # The charts per day are drawn: their titles, and bars in the dashboard's colour.
    for title in ("Mensagens por dia", "Pedidos por dia", "Agendamentos por dia"):
        assert title in text, title
    assert _bar_pixels(answer.content, tmp_path) > 200


def _bar_pixels(pdf: bytes, tmp_path: Path) -> int:
    """Pixels of the charts' bars (integrations.report.BAR, #417690) on the pages, rendered
    by pdftoppm as binary PPM (P6: a text header, then one RGB triple a pixel)."""
    path = tmp_path / "bars.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", str(path), str(tmp_path / "bars")], check=True)
    total = 0
    for page in sorted(tmp_path.glob("bars*.ppm")):
        data = page.read_bytes()
        header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
        assert header, page
        width, height = int(header.group(1)), int(header.group(2))
        rgb = data[header.end() : header.end() + width * height * 3]
        total += sum(
            1
            for i in range(0, len(rgb), 3)
            if abs(rgb[i] - 0x41) < 12
            and abs(rgb[i + 1] - 0x76) < 12
            and abs(rgb[i + 2] - 0x90) < 12
        )
    return total


@time_machine.travel(NOW, tick=False)
def test_agents_and_other_tenants_cannot_download(tenant, other_tenant, client):
    _build(tenant)
    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    stranger = MembershipFactory(tenant=other_tenant, role=Membership.Role.OWNER).user
    url = f"/admin/integrations/monthlyreport/tenant/{tenant.pk}/2026-11.pdf"
    for user, code in [(agent, 403), (stranger, 404)]:
        user.is_staff = True
        user.save()
        client.force_login(user)
        assert client.get(url).status_code == code


def test_owners_get_last_months_report_by_email_on_the_first_once(
    tenant, owner, celery_eager, tmp_path
):
    with time_machine.travel(NOW, tick=False):
        _build(tenant)
        MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN)  # not a recipient
    with time_machine.travel(datetime(2026, 12, 1, 7, 0, tzinfo=SP), tick=False):
        report_tasks.bulk_monthly_reports()
        report_tasks.bulk_monthly_reports()  # beat firing twice sends nothing more
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [owner.email]
    assert "novembro de 2026" in email.subject
    ((name, pdf, kind),) = email.attachments
    assert (name, kind) == ("relatorio-padaria-2026-11.pdf", "application/pdf")
    text = _pdf_text(pdf, tmp_path)
    assert "2.616" in text and "R$ 1324,50" in text
    assert MonthlyReport.objects.get(tenant=tenant).month == NOVEMBER.date()


@time_machine.travel(NOW, tick=False)
def test_the_report_command_writes_the_pdf(tenant, tmp_path):
    _build(tenant)
    out = tmp_path / "nov.pdf"
    call_command(
        "report",
        "--tenant",
        "padaria",
        "--month",
        "2026-11",
        "--output",
        str(out),
        stdout=StringIO(),
    )
    assert "2.616" in _pdf_text(out.read_bytes(), tmp_path)
    call_command(
        "report",
        "--tenant",
        str(tenant.pk),
        "--month",
        "2026-10",
        "--output",
        str(out),
        stdout=StringIO(),
    )
    assert "1.800" in _pdf_text(out.read_bytes(), tmp_path)  # October's own numbers
    with pytest.raises(Exception, match="AAAA-MM"):
        call_command("report", "--tenant", "padaria", "--month", "novembro", stdout=StringIO())
    assert report.month_parse("2026-02").day == 1
