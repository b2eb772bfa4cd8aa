"""The monthly report of a tenant, as a PDF: the month's numbers, charts per day, top
intents, orders, appointments, attendance and agents.

The figures are billing.analytics' own (`numbers_between` and `analytics_history`, which the
admin dashboard shows), formatted as the dashboard formats them (Django's localized number
format), so the PDF and the page never disagree. Drawn with ReportLab's platypus and its
charts (https://docs.reportlab.com/reportlab/userguide/ch11_graphics/), pure Python.

Who gets it: the tenant's owners, by email, on the first day of each month for the month
before (integrations.report_tasks, config/schedule.py); owners and admins download any month
from the admin (integrations.admin); operators run `manage.py report`.
"""

from __future__ import annotations

import calendar
import io
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing import analytics
from billing.models import Membership, Tenant
from chatbots.models import Message
from integrations.models import MonthlyReport

logger = logging.getLogger(__name__)

MONTHS = [
    "",
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
]
TOP_INTENTS = 5
BAR = colors.HexColor("#417690")  # the admin dashboard's colour (billing.charts)


def month_parse(text: str) -> date:
    """ "2026-11" as date(2026, 11, 1); ValueError with a pt-BR message otherwise."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise ValueError(_("Mês inválido: use AAAA-MM, por exemplo 2026-11.")) from None


def month_label(month: date) -> str:
    return f"{MONTHS[month.month]} de {month.year}"


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in the project's time zone, the
    days the usage rows are kept in (billing.metering)."""
    tz = timezone.get_current_timezone()
    days = calendar.monthrange(month.year, month.month)[1]
    start = datetime.combine(month, datetime.min.time(), tzinfo=tz)
    return start, datetime.combine(month + timedelta(days=days), datetime.min.time(), tzinfo=tz)


def previous_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


# --- The figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportData:
    tenant: Tenant
    month: date
    numbers: dict
    days: list
    intents: list[tuple[str, int]]


def top_intents(*, tenant: Tenant, start: datetime, end: datetime) -> list[tuple[str, int]]:
    """What customers wanted most: inbound messages by intent (chatbots.ai.intent), one
    query over the tenant's month (its created_at index)."""
    labels = dict(Message.Intent.choices)
    rows = (
        Message.objects.filter(
            tenant=tenant, direction=Message.Direction.IN, created_at__gte=start, created_at__lt=end
        )
        .exclude(intent="")
        .values("intent")
        .annotate(n=Count("pk"))
        .order_by("-n", "intent")[:TOP_INTENTS]
    )
    return [(str(labels.get(row["intent"], row["intent"])), row["n"]) for row in rows]


def report_data(*, tenant: Tenant, month: date, now: datetime | None = None) -> ReportData:
    now = now or timezone.now()
    start, end = month_bounds(month)
    until = min(now, end)
    last = timezone.localdate(until if until < end else end - timedelta(microseconds=1))
    days = (last - month).days + 1 if last >= month else 0
    return ReportData(
        tenant=tenant,
        month=month,
        numbers=analytics.numbers_between(tenant=tenant, start=start, end=end, now=now),
        days=analytics.analytics_history(tenant=tenant, days=days, today=last) if days else [],
        intents=top_intents(tenant=tenant, start=start, end=until),
    )


# --- The PDF ---------------------------------------------------------------------------------


def _int(value) -> str:
    """As the dashboard's `intcomma` shows it (1.234)."""
    return number_format(value or 0, decimal_pos=0, force_grouping=True)


def _money(value) -> str:
    """As the dashboard's `floatformat:2` shows it (1234,50)."""
    return "R$ " + number_format(value or 0, decimal_pos=2)


def _seconds(value, decimals: int = 0) -> str:
    return "–" if value is None else f"{number_format(value, decimal_pos=decimals)} s"


def _chart(title: str, points: list[tuple[date, float]], styles) -> list:
    width, height = 17 * cm, 4.5 * cm
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = (
        1.2 * cm,
        0.8 * cm,
        width - 1.6 * cm,
        height - 1.2 * cm,
    )
    values = [float(v or 0) for _d, v in points] or [0.0]
    chart.data = [values]
    chart.bars[0].fillColor = BAR
    chart.bars[0].strokeColor = None
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(max(values), 1)
    if all(v == int(v) for v in values):  # counts: whole steps, never "0.2 orders"
        chart.valueAxis.valueStep = max(1, math.ceil(chart.valueAxis.valueMax / 5))
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = [
        f"{d:%d}" if i % 5 == 0 or i == len(points) - 1 else "" for i, (d, _v) in enumerate(points)
    ]
    chart.categoryAxis.labels.fontSize = 7
    drawing.add(chart)
    if not points:
        drawing.add(String(width / 2, height / 2, _("sem dados"), textAnchor="middle"))
    return [Paragraph(title, styles["Heading4"]), drawing]


def _table(rows: list[list[str]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def report_pdf(data: ReportData) -> bytes:
    n, styles, story = data.numbers, getSampleStyleSheet(), []
    att = n["attendance"]
    story.append(
        Paragraph(_("Relatório mensal: %(tenant)s") % {"tenant": data.tenant.name}, styles["Title"])
    )
    story.append(
        Paragraph(
            _("%(month)s · %(first)s a %(last)s")
            % {
                "month": month_label(data.month).capitalize(),
                "first": f"{n['period_start']:%d/%m/%Y}",
                "last": f"{(n['period_end'] - timedelta(days=1)):%d/%m/%Y}",
            },
            styles["Normal"],
        )
    )
    story.append(Spacer(1, 0.4 * cm))
    numbers = [
        [_("Números do mês"), ""],
        [_("Mensagens"), _int(n["messages"])],
        [_("recebidas"), _int(n["messages_in"])],
        [_("enviadas"), _int(n["messages_out"])],
        [_("Tokens de IA"), _int(n["ai_tokens"])],
        [_("Custo estimado"), _money(n["estimated_cost"])],
        [_("modelos entregues"), _money(n["templates_cost"])],
        [_("Tempo médio de resposta do robô"), _seconds(n["avg_response_seconds"], 1)],
        [_("Pedidos confirmados"), _int(n["orders"])],
        [_("Valor dos pedidos"), _money(n["orders_value"])],
    ]
    if n["appointments"] is not None:
        rate = n["attendance_rate"]
        numbers += [
            [_("Agendamentos"), _int(n["appointments"])],
            [_("compareceram"), _int(n["appointments_attended"])],
            [_("não compareceram"), _int(n["appointments_no_show"])],
            [_("comparecimento"), "–" if rate is None else f"{round(rate * 100)}%"],
        ]
    numbers += [
        [_("Conversas atendidas por pessoas"), _int(att["handled"])],
        [_("encerradas"), _int(att["resolved"])],
        [_("Tempo médio até a primeira resposta"), _seconds(att["avg_first_response_seconds"])],
        [_("Tempo médio de resolução"), _seconds(att["avg_resolution_seconds"])],
    ]
    story.append(_table(numbers, [10 * cm, 5 * cm]))
    story.append(Spacer(1, 0.4 * cm))

    story.append(Paragraph(_("Intenções mais frequentes"), styles["Heading3"]))
    if data.intents:
        rows = [[_("Intenção"), _("Mensagens")]] + [[name, _int(c)] for name, c in data.intents]
        story.append(_table(rows, [10 * cm, 5 * cm]))
    else:
        story.append(Paragraph(_("Nenhuma intenção identificada neste mês."), styles["Normal"]))

    story.append(Paragraph(_("Atendentes"), styles["Heading3"]))
    if att["per_agent"]:
        rows = [[_("Atendente"), _("Atendidas"), _("Encerradas"), _("1ª resposta"), _("Resolução")]]
        rows += [
            [
                a["name"],
                _int(a["handled"]),
                _int(a["resolved"]),
                _seconds(a["avg_first_response_seconds"]),
                _seconds(a["avg_resolution_seconds"]),
            ]
            for a in att["per_agent"]
        ]
        story.append(_table(rows, [6 * cm, 2.5 * cm, 2.5 * cm, 3 * cm, 3 * cm]))
    else:
        story.append(Paragraph(_("Nenhum atendimento humano neste mês."), styles["Normal"]))

    story.append(Paragraph(_("Por dia"), styles["Heading3"]))
    series = [
        (_("Mensagens por dia"), [(d.date, d.messages_in + d.messages_out) for d in data.days]),
        (_("Pedidos por dia"), [(d.date, d.orders) for d in data.days]),
        (_("Valor dos pedidos por dia (R$)"), [(d.date, d.orders_value) for d in data.days]),
    ]
    if any(d.appointments is not None for d in data.days):
        series.append(
            (_("Agendamentos por dia"), [(d.date, d.appointments or 0) for d in data.days])
        )
    for title, points in series:
        story.extend(_chart(title, points, styles))

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=_("Relatório mensal %(month)s") % {"month": f"{data.month:%Y-%m}"},
        author=str(data.tenant.name),
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.8 * cm,
        bottomMargin=1.8 * cm,
    )
    doc.build(story)
    return out.getvalue()


def report_render(*, tenant: Tenant, month: date, now: datetime | None = None) -> bytes:
    return report_pdf(report_data(tenant=tenant, month=month, now=now))


def report_filename(tenant: Tenant, month: date) -> str:
    return f"relatorio-{tenant.slug}-{month:%Y-%m}.pdf"


# --- Email -------------------------------------------------------------------------------------


def owner_emails(tenant_id: int) -> list[str]:
    emails = (
        Membership.objects.filter(
            tenant_id=tenant_id, role=Membership.Role.OWNER, user__is_active=True
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    return sorted(set(emails))


def report_email(*, tenant_id: int, month: date) -> bool:
    """Email the month's report to the tenant's owners, once (the MonthlyReport row is
    the claim: a second run, or a second worker, sends nothing). True when sent."""
    tenant = Tenant.objects.filter(pk=tenant_id, active=True).first()
    to = owner_emails(tenant_id) if tenant else []
    if not to:
        return False
    try:
        with transaction.atomic():
            claim = MonthlyReport.objects.create(tenant=tenant, month=month, recipients=len(to))
    except IntegrityError:
        return False
    try:
        pdf = report_render(tenant=tenant, month=month)
        message = EmailMessage(
            subject=_("[Relatório] %(tenant)s: %(month)s")
            % {"tenant": tenant.name, "month": month_label(month)},
            body=_(
                "Segue em anexo o relatório de %(month)s de %(tenant)s: mensagens, pedidos, "
                "agendamentos, atendimento e atendentes. Os mesmos números estão no painel."
            )
            % {"month": month_label(month), "tenant": tenant.name},
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=to,
        )
        message.attach(report_filename(tenant, month), pdf, "application/pdf")
        message.send()
    except Exception:
        claim.delete()  # let a retry send it
        raise
    logger.info("monthly report sent", extra={"tenant_id": tenant_id, "month": f"{month:%Y-%m}"})
    return True
