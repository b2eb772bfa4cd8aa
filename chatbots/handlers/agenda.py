"""The appointment flow: book, see, reschedule or cancel an appointment in the chat.

    inicio (Agendar · Meu horário · Encerrar)
      ├─ agenda_servico ─▶ agenda_dia ─▶ agenda_horario ─▶ agenda_confirmar ─▶ booked
      └─ agenda_meu_horario (Confirmar · Reagendar · Cancelar the next appointment)

Services, days and times go out as WhatsApp lists (10 rows at most in total, so long ones
are paged with "Ver mais"); the customer may also tap, type the number, or type the name,
the day ("amanhã", "sexta", "07/03") or the time ("9:30", "14h"). Ids: "srv:<id>",
"dia:<YYYY-MM-DD>", "hora:<ISO datetime>".

Buttons that carry an appointment ("ag:confirmar:42" on a reminder, "ag:remarcar:42" after
a no-show, "fb:5:42" on the satisfaction question) belong to the appointment, not to the
step the conversation is at: the `appointment_buttons` interceptor hands them to
`interceptar` here, from any step of any flow. A reschedule started in a bot whose flow has
no agenda steps (say, mid-order in the order flow) runs the day/time/confirm steps
"embedded": the agenda step lives in the state (`agenda_embutida`), the interceptor drives
it, and when it is over the conversation goes back to the step it was at.

Errors: no availability source -> "a agenda não está configurada", end; Cal.com down ->
"não consegui acessar a agenda agora", stay at the step with everything chosen so far, so
the customer just tries again; a time taken between offer and confirmation -> say so and
offer the free ones.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agenda import selectors as agenda_selectors
from agenda import services as agenda_services
from agenda import textos
from agenda.availability import (
    configuracao_ativa,
    disponibilidade,
    fuso_do_tenant,
    proximos_dias_com_vaga,
)
from agenda.errors import AgendaErro, AgendaIndisponivel, AgendaNaoConfigurada, SlotTaken
from agenda.models import Agendamento, Servico
from chatbots import wire as wa
from chatbots.handlers import kit
from chatbots.handlers.base import Context, Handler, Reply
from chatbots.handlers.registry import register
from chatbots.models import Message, MessageTemplate, Step
from chatbots.text import match_option, normalize

logger = logging.getLogger(__name__)

# Step codes of the agenda flow.
INICIO = "inicio"
SERVICO = "agenda_servico"
DIA = "agenda_dia"
HORARIO = "agenda_horario"
CONFIRMAR = "agenda_confirmar"
MEU_HORARIO = "agenda_meu_horario"

# Conversation state keys (prefixed: the state may be shared with another flow's keys).
K_SERVICO = "agenda_servico_id"
K_PAGINA = "agenda_pagina"
K_DIAS = "agenda_dias"  # the days offered, ISO dates, so a typed "2" means what was shown
K_DIA = "agenda_dia"
K_HORAS = "agenda_horas"  # the free times of the chosen day, ISO datetimes
K_INICIO = "agenda_inicio"
K_REAGENDAR = "agenda_reagendar_id"  # set while moving an existing appointment
K_MEU = "agenda_meu_id"
K_EMBUTIDA = "agenda_embutida"  # the agenda step run inside another flow (see docstring)
K_VOLTA = "agenda_volta"  # the step to return to when the embedded run is over
K_COMENTARIO = "aguardando_comentario_feedback"  # appointment whose comment we await

LIMPO: dict[str, Any] = {
    K_SERVICO: None,
    K_PAGINA: 0,
    K_DIAS: None,
    K_DIA: None,
    K_HORAS: None,
    K_INICIO: None,
    K_REAGENDAR: None,
    K_MEU: None,
    K_EMBUTIDA: None,
    K_VOLTA: None,
}

# What a customer types for "Ver mais" here: "outros" (other services, other times) too.
MAIS_PALAVRAS = (*kit.MORE_WORDS, "outros")
# Days offered at once: 9 + "Voltar" = 10 rows (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages).
DIAS_MAX = 9
MAX_HOPS = 10  # same bound as the engine's steps entered in one turn

DIAS_POR_EXTENSO = ("segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo")
_DATA_DIGITADA = re.compile(r"^(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*\d{2,4})?$")
# "9:30", "09h30", "14h", "14" (a typed hour after the numbers of the page shown).
_HORA_DIGITADA = re.compile(r"^(?P<h>\d{1,2})(?:(?:[:h])(?P<m>\d{2})?h?)?$")


def _nao_configurada() -> str:
    return _(
        "Desculpe, a agenda não está configurada, então ainda não consigo marcar horários "
        "por aqui. Por favor, fale com a gente por outro canal. 🙏"
    )


def _indisponivel() -> str:
    return _(
        "Desculpe, não consegui acessar a agenda agora. 😕 Tente de novo em alguns minutos: "
        "suas escolhas estão guardadas."
    )


def _erro_agenda(exc: AgendaErro) -> Reply:
    """No source: say so and end. Cal.com unreachable: say so and stay (nothing lost)."""
    if isinstance(exc, AgendaNaoConfigurada):
        return Reply(messages=[kit.text(_nao_configurada())], end=True)
    return Reply(messages=[kit.text(_indisponivel())])


def _hoje(ctx: Context) -> date:
    return timezone.now().astimezone(fuso_do_tenant(ctx.chatbot.tenant)).date()


def _servico(ctx: Context) -> Servico | None:
    pk = ctx.state.get(K_SERVICO)
    if not pk:
        return None
    return Servico.objects.filter(tenant_id=ctx.chatbot.tenant_id, pk=pk, ativo=True).first()


def _agendamento_do_cliente(ctx: Context, pk: Any) -> Agendamento | None:
    """The appointment `pk` if it is this customer's, in this tenant; else None."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return (
        Agendamento.objects.select_related("servico", "tenant", "cliente")
        .filter(pk=pk, tenant_id=ctx.chatbot.tenant_id, cliente_id=ctx.cliente.pk)
        .first()
    )


def _reagendando(ctx: Context) -> Agendamento | None:
    return _agendamento_do_cliente(ctx, ctx.state.get(K_REAGENDAR))


def _momento(iso: str | None) -> datetime | None:
    """The aware datetime an ISO text (a tapped time row, the state) names; else None."""
    try:
        momento = datetime.fromisoformat(iso or "")
    except ValueError:
        return None
    return momento if timezone.is_aware(momento) else None


def _status(agendamento: Agendamento) -> str:
    return agendamento.get_status_display().lower()


# --- inicio ----------------------------------------------------------------------------

AGENDAR = "agenda:agendar"
MEU = "agenda:meu"
SAIR = "agenda:sair"


@register
class AgendaInicioHandler(kit.FlowHandler):
    label = gettext_lazy("Agenda: início (Agendar, Meu horário)")
    config_help = gettext_lazy('Opcional: {"text": "Olá! Quer marcar um horário?"}')
    KEYS = ("text",)
    NEXT_STEPS = (SERVICO, MEU_HORARIO)

    OPTIONS = [
        (AGENDAR, gettext_lazy("Agendar")),
        (MEU, gettext_lazy("Meu horário")),
        (SAIR, gettext_lazy("Encerrar")),
    ]
    ALIASES = {
        "marcar": AGENDAR,
        "agendar horario": AGENDAR,
        "marcar horario": AGENDAR,
        "ver horario": MEU,
        "meu agendamento": MEU,
        "sair": SAIR,
        "tchau": SAIR,
    }

    def enter(self, ctx: Context) -> Reply:
        body = ctx.config.get("text") or _(
            "Olá! 😊 Sou o assistente de agendamentos. O que você quer fazer?"
        )
        return Reply(messages=[self.ask(body)], state=dict(LIMPO))

    def handle(self, ctx: Context) -> Reply:
        escolha = self.pressed(ctx)
        if escolha == MEU:
            return Reply(next_step=MEU_HORARIO)
        return _agendar_ou_sair(escolha) or Reply(
            messages=[kit.text(_("Toque em uma das opções: Agendar, Meu horário ou Encerrar."))],
            next_step=INICIO,
        )


def _agendar_ou_sair(escolha: str | None) -> Reply | None:
    """The "Agendar" and "Encerrar" buttons, offered at "inicio" and at "Meu horário"."""
    if escolha == AGENDAR:
        return Reply(state=dict(LIMPO), next_step=SERVICO)
    if escolha == SAIR:
        return Reply(messages=[kit.text(_("Até logo! 👋"))], end=True)
    return None


# --- agenda_servico --------------------------------------------------------------------


@register
class EscolherServicoHandler(kit.FlowHandler):
    label = gettext_lazy("Agenda: escolher serviço")
    config_help = gettext_lazy('Opcional: {"text": "Qual serviço você quer agendar?"}')
    KEYS = ("text",)
    NEXT_STEPS = (DIA,)

    def _items(self, ctx: Context) -> list[Servico]:
        return list(agenda_selectors.servicos_ativos(tenant=ctx.chatbot.tenant))

    def enter(self, ctx: Context) -> Reply:
        try:
            configuracao_ativa(ctx.chatbot.tenant)
        except AgendaNaoConfigurada as exc:
            return _erro_agenda(exc)
        items = self._items(ctx)
        if not items:
            return Reply(
                messages=[kit.text(_("Ainda não há serviços disponíveis para agendar. 🙏"))],
                end=True,
            )
        pagina = kit.page_of(items, ctx.state.get(K_PAGINA))
        rows = [
            wa.Row(
                id=f"srv:{s.pk}",
                title=kit.cut(s.nome, wa.LIST_ROW_TITLE_MAX),
                description=kit.cut(_descricao_servico(s), wa.LIST_ROW_DESCRIPTION_MAX),
            )
            for s in pagina.items
        ]
        body = ctx.config.get("text") or _("Qual serviço você quer agendar?")
        return Reply(
            messages=[
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver serviços"),
                    prefix="srv",
                    rows=rows,
                    more=pagina.has_more,
                    back=True,
                )
            ]
        )

    def handle(self, ctx: Context) -> Reply:
        items = self._items(ctx)
        pagina = kit.page_of(items, ctx.state.get(K_PAGINA))
        navegacao = kit.navigation(ctx, "srv", more_words=MAIS_PALAVRAS)
        if navegacao == kit.MORE and pagina.has_more:
            return Reply(state={K_PAGINA: pagina.number + 1}, next_step=SERVICO)
        if navegacao == kit.BACK:
            return Reply(state=dict(LIMPO), next_step=INICIO)
        escolha = kit.pick(ctx, items, pagina, prefix="srv", title_of=lambda s: s.nome)
        if escolha is None:
            return Reply(
                messages=[
                    kit.text(
                        _("Não encontrei esse serviço. Escolha um da lista ou digite o número.")
                    )
                ],
                next_step=SERVICO,
            )
        return Reply(state={K_SERVICO: escolha.pk, K_PAGINA: 0}, next_step=DIA)


def _descricao_servico(servico: Servico) -> str:
    partes = [_("%(min)s min") % {"min": servico.duracao_minutos}]
    if servico.preco is not None:
        from pedidos.money import formatar_reais

        partes.append(formatar_reais(servico.preco))
    return " · ".join(partes)


# --- agenda_dia ------------------------------------------------------------------------


@register
class EscolherDiaHandler(kit.FlowHandler):
    label = gettext_lazy("Agenda: escolher dia")
    config_help = gettext_lazy("Sem configuração.")
    NEXT_STEPS = (HORARIO,)

    def enter(self, ctx: Context) -> Reply:
        servico = _servico(ctx)
        if servico is None:
            return Reply(next_step=SERVICO)
        reagendando = _reagendando(ctx)
        try:
            dias = proximos_dias_com_vaga(
                tenant=ctx.chatbot.tenant, servico=servico, limite=DIAS_MAX
            )
        except AgendaErro as exc:
            return _erro_agenda(exc)
        if not dias:
            texto = _("Não há horários livres para *%(servico)s* nos próximos dias. 😕") % {
                "servico": servico.nome
            }
            if reagendando is not None:
                texto += "\n" + _("Seu horário atual continua marcado.")
                return Reply(messages=[kit.text(texto)], end=True)
            return Reply(messages=[kit.text(texto)], state={K_PAGINA: 0}, next_step=SERVICO)
        hoje = _hoje(ctx)
        rows = [
            wa.Row(
                id=f"dia:{d.isoformat()}", title=textos.dia_curto(d), description=_relativo(d, hoje)
            )
            for d in dias
        ]
        if reagendando is not None:
            body = _("Para quando quer remarcar %(resumo)s? Escolha o dia:") % {
                "resumo": textos.resumo(reagendando)
            }
        else:
            body = _("*%(servico)s*: escolha o dia.") % {"servico": servico.nome}
        return Reply(
            messages=[
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver dias"),
                    prefix="dia",
                    rows=rows,
                    more=False,
                    back=reagendando is None,
                )
            ],
            state={K_DIAS: [d.isoformat() for d in dias]},
        )

    def handle(self, ctx: Context) -> Reply:
        if kit.navigation(ctx, "dia", more_words=MAIS_PALAVRAS) == kit.BACK:
            if ctx.state.get(K_REAGENDAR):
                return Reply(
                    messages=[kit.text(_("Tudo bem, seu horário continua como estava."))], end=True
                )
            return Reply(state={K_PAGINA: 0}, next_step=SERVICO)
        dias = [date.fromisoformat(d) for d in ctx.state.get(K_DIAS) or []]
        dia = _dia_escolhido(ctx, dias, _hoje(ctx))
        if dia is None:
            return Reply(
                messages=[
                    kit.text(_("Não entendi o dia. Escolha um da lista, ou digite o número."))
                ],
                next_step=DIA,
            )
        return Reply(state={K_DIA: dia.isoformat(), K_PAGINA: 0}, next_step=HORARIO)


def _relativo(dia: date, hoje: date) -> str:
    if dia == hoje:
        return _("Hoje")
    if dia == hoje + timedelta(days=1):
        return _("Amanhã")
    return ""


def _dia_escolhido(ctx: Context, dias: list[date], hoje: date) -> date | None:
    if ctx.reply_id.startswith("dia:"):
        try:
            return date.fromisoformat(ctx.reply_id[4:])
        except ValueError:
            return None
    typed = normalize(ctx.text)
    if not typed:
        return None
    if typed == "hoje":
        return hoje if hoje in dias else None
    if typed in ("amanha", "amanha cedo"):
        return hoje + timedelta(days=1) if hoje + timedelta(days=1) in dias else None
    data = _DATA_DIGITADA.match(typed)
    if data:
        dia, mes = int(data.group(1)), int(data.group(2))
        return next((d for d in dias if (d.day, d.month) == (dia, mes)), None)
    palavra = typed.split(" ")[0].replace("-feira", "")
    if len(palavra) >= 3 and not palavra.isdigit():
        for numero, nome in enumerate(DIAS_POR_EXTENSO):
            if nome.startswith(palavra):
                return next((d for d in dias if d.weekday() == numero), None)
    return match_option(
        ctx.text, dias, id_of=lambda d: f"dia:{d.isoformat()}", title_of=textos.dia_curto
    )


# --- agenda_horario --------------------------------------------------------------------


@register
class EscolherHorarioHandler(kit.FlowHandler):
    label = gettext_lazy("Agenda: escolher horário")
    config_help = gettext_lazy("Sem configuração.")
    NEXT_STEPS = (DIA, CONFIRMAR)

    def enter(self, ctx: Context) -> Reply:
        servico = _servico(ctx)
        if servico is None:
            return Reply(next_step=SERVICO)
        try:
            dia = date.fromisoformat(ctx.state.get(K_DIA) or "")
        except ValueError:
            return Reply(next_step=DIA)
        try:
            slots = disponibilidade(tenant=ctx.chatbot.tenant, servico=servico, dia=dia)
        except AgendaErro as exc:
            return _erro_agenda(exc)
        if not slots:
            return Reply(
                messages=[
                    kit.text(
                        _("Não há mais horários livres em %(dia)s. Escolha outro dia:")
                        % {"dia": textos.dia_curto(dia)}
                    )
                ],
                state={K_DIA: None},
                next_step=DIA,
            )
        pagina = kit.page_of(slots, ctx.state.get(K_PAGINA))
        rows = [
            wa.Row(
                id=f"hora:{s.inicio.isoformat()}",
                title=textos.hora(s.inicio),
                description=_("até %(fim)s") % {"fim": textos.hora(s.fim)},
            )
            for s in pagina.items
        ]
        body = _("*%(servico)s*, %(dia)s: escolha o horário.") % {
            "servico": servico.nome,
            "dia": textos.dia_curto(dia),
        }
        return Reply(
            messages=[
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver horários"),
                    prefix="hora",
                    rows=rows,
                    more=pagina.has_more,
                    back=True,
                )
            ],
            state={K_HORAS: [s.inicio.isoformat() for s in slots], K_PAGINA: pagina.number},
        )

    def handle(self, ctx: Context) -> Reply:
        horas = [datetime.fromisoformat(h) for h in ctx.state.get(K_HORAS) or []]
        pagina = kit.page_of(horas, ctx.state.get(K_PAGINA))
        navegacao = kit.navigation(ctx, "hora", more_words=MAIS_PALAVRAS)
        if navegacao == kit.MORE and pagina.has_more:
            return Reply(state={K_PAGINA: pagina.number + 1}, next_step=HORARIO)
        if navegacao == kit.BACK:
            return Reply(state={K_PAGINA: 0, K_DIA: None}, next_step=DIA)
        inicio = _hora_escolhida(ctx, horas, pagina)
        if inicio is None:
            return Reply(
                messages=[
                    kit.text(
                        _(
                            "Não entendi o horário. Escolha um da lista ou digite, por exemplo, 9:30."
                        )
                    )
                ],
                next_step=HORARIO,
            )
        return Reply(state={K_INICIO: inicio.isoformat()}, next_step=CONFIRMAR)


def _hora_escolhida(ctx: Context, horas: list[datetime], pagina: kit.Page) -> datetime | None:
    """The time tapped ("hora:<ISO>"), a number on the page shown, or a typed time."""
    if ctx.reply_id.startswith("hora:"):
        return _momento(ctx.reply_id[5:])
    typed = normalize(ctx.text).replace(" ", "")
    numerada = pagina.numbered(typed)
    if numerada is not None:
        return numerada
    digitada = _HORA_DIGITADA.match(typed)
    if digitada is None:
        return None
    hh, mm = int(digitada["h"]), int(digitada["m"] or 0)
    return next((h for h in horas if (h.hour, h.minute) == (hh, mm)), None)


# --- agenda_confirmar ------------------------------------------------------------------

SIM = "conf:sim"
TROCAR = "conf:trocar"
NAO = "conf:nao"


@register
class ConfirmarAgendamentoHandler(kit.FlowHandler):
    label = gettext_lazy("Agenda: confirmar agendamento")
    config_help = gettext_lazy('Opcional: {"text": "Até lá! Qualquer coisa, é só chamar."}')
    KEYS = ("text",)
    NEXT_STEPS = (HORARIO,)

    OPTIONS = [
        (SIM, gettext_lazy("Confirmar")),
        (TROCAR, gettext_lazy("Outro horário")),
        (NAO, gettext_lazy("Cancelar")),
    ]
    ALIASES = {
        "sim": SIM,
        "ok": SIM,
        "confirmo": SIM,
        "pode ser": SIM,
        "outro": TROCAR,
        "trocar": TROCAR,
        "nao": NAO,
        "desistir": NAO,
    }

    def enter(self, ctx: Context) -> Reply:
        servico, inicio = _servico(ctx), _momento(ctx.state.get(K_INICIO))
        if servico is None or inicio is None:
            return Reply(next_step=HORARIO)
        tenant = ctx.chatbot.tenant
        if ctx.state.get(K_REAGENDAR):
            antigo = _reagendando(ctx)
            if antigo is None or not antigo.ativo:
                return _nao_remarcavel()
            body = _("Remarcar %(resumo)s para *%(novo)s*?") % {
                "resumo": textos.resumo(antigo),
                "novo": textos.quando(inicio, tenant=tenant),
            }
        else:
            body = _("Confirma *%(servico)s* %(quando)s?") % {
                "servico": servico.nome,
                "quando": textos.quando(inicio, tenant=tenant),
            }
        return Reply(messages=[self.ask(body)])

    def handle(self, ctx: Context) -> Reply:
        escolha = self.pressed(ctx)
        if escolha == TROCAR:
            return _outro_horario()
        if escolha == NAO:
            texto = (
                _("Tudo bem, seu horário continua como estava.")
                if ctx.state.get(K_REAGENDAR)
                else _("Tudo bem, não marquei nada. Quando quiser, é só chamar. 😊")
            )
            return Reply(messages=[kit.text(texto)], end=True)
        if escolha != SIM:
            return Reply(
                messages=[kit.text(_("Toque em Confirmar, Outro horário ou Cancelar."))],
                next_step=CONFIRMAR,
            )
        servico, inicio = _servico(ctx), _momento(ctx.state.get(K_INICIO))
        if servico is None or inicio is None:
            return Reply(next_step=HORARIO)
        return _reservar(ctx, servico=servico, inicio=inicio)


def _outro_horario(texto: str | None = None) -> Reply:
    """Back to the times of the chosen day (from page 1), saying `texto` first if given."""
    return Reply(
        messages=[] if texto is None else [kit.text(texto)],
        state={K_INICIO: None, K_PAGINA: 0},
        next_step=HORARIO,
    )


def _nao_remarcavel() -> Reply:
    return Reply(messages=[kit.text(_("Esse agendamento não pode mais ser remarcado."))], end=True)


def _reservar(ctx: Context, *, servico: Servico, inicio: datetime) -> Reply:
    tenant = ctx.chatbot.tenant
    antigo = _reagendando(ctx) if ctx.state.get(K_REAGENDAR) else None
    try:
        if ctx.state.get(K_REAGENDAR):
            if antigo is None:
                return _nao_remarcavel()
            agendamento = agenda_services.agendamento_reagendar(
                agendamento=antigo, novo_inicio=inicio
            )
            auditar(
                acao="agendamento.reschedule",
                agendamento=agendamento,
                cliente=ctx.cliente,
                changes={
                    "inicio": [antigo.inicio.isoformat(), agendamento.inicio.isoformat()],
                    "reagendado_de": [None, antigo.pk],
                    "canal": [None, "whatsapp"],
                },
            )
        else:
            agendamento = agenda_services.agendamento_criar(
                tenant=tenant,
                cliente=ctx.cliente,
                servico=servico,
                inicio=inicio,
                origem=Agendamento.Origem.CHAT,
            )
    except SlotTaken:
        return _outro_horario(
            _(
                "Poxa, esse horário acabou de ser ocupado por outra pessoa. 😕 "
                "Veja os próximos horários livres:"
            )
        )
    except AgendaIndisponivel:
        # Nothing was booked anywhere (the service calls Cal.com first): offer the same
        # confirmation again, so one tap retries.
        return Reply(messages=[kit.text(_indisponivel())], next_step=CONFIRMAR)
    except AgendaNaoConfigurada as exc:
        return _erro_agenda(exc)
    except ValidationError as exc:
        return _outro_horario(" ".join(exc.messages))
    fim = ctx.config.get("text") or _("Você vai receber um lembrete antes. Até lá! 😊")
    if antigo is not None:
        body = _("✅ Remarcado! Seu horário agora é %(resumo)s.\n%(fim)s")
    else:
        body = _("✅ Agendado! %(resumo)s.\n%(fim)s")
    return Reply(
        messages=[kit.text(body % {"resumo": textos.resumo(agendamento), "fim": fim})], end=True
    )


# --- agenda_meu_horario ----------------------------------------------------------------


@register
class MeuHorarioHandler(kit.FlowHandler):
    label = gettext_lazy("Agenda: meu próximo horário (ver, remarcar, cancelar)")
    config_help = gettext_lazy("Sem configuração.")
    NEXT_STEPS = (SERVICO,)

    ALIASES = {"remarcar": textos.REAGENDAR, "mudar": textos.REAGENDAR, "trocar": textos.REAGENDAR}

    def _opcoes(self, agendamento: Agendamento | None) -> list[tuple[str, str]]:
        if agendamento is None:
            return [(AGENDAR, _("Agendar")), (SAIR, _("Encerrar"))]
        opcoes = []
        if agendamento.status == Agendamento.Status.PENDENTE:
            opcoes.append((textos.botao_acao(textos.CONFIRMAR, agendamento.pk), _("Confirmar")))
        opcoes += [
            (textos.botao_acao(textos.REAGENDAR, agendamento.pk), _("Reagendar")),
            (textos.botao_acao(textos.CANCELAR, agendamento.pk), _("Cancelar")),
        ]
        return opcoes

    def enter(self, ctx: Context) -> Reply:
        agendamento = agenda_selectors.agendamento_proximo(cliente=ctx.cliente)
        if agendamento is None:
            return Reply(
                messages=[
                    kit.buttons(
                        _("Você não tem nenhum horário marcado. Quer agendar agora?"),
                        self._opcoes(None),
                    )
                ],
                state={K_MEU: None},
            )
        body = _("Seu próximo horário: %(resumo)s (%(status)s).") % {
            "resumo": textos.resumo(agendamento),
            "status": _status(agendamento),
        }
        return Reply(
            messages=[kit.buttons(body, self._opcoes(agendamento))], state={K_MEU: agendamento.pk}
        )

    def handle(self, ctx: Context) -> Reply:
        # Taps on "ag:..." buttons never get here: the interceptor takes them first.
        agendamento = _agendamento_do_cliente(ctx, ctx.state.get(K_MEU))
        if agendamento is not None and not agendamento.ativo:
            agendamento = None
        opcoes = self._opcoes(agendamento)
        aliases = {}
        if agendamento is not None:
            aliases = {k: textos.botao_acao(v, agendamento.pk) for k, v in self.ALIASES.items()}
        escolha = kit.match_button(ctx, opcoes, aliases)
        menu = _agendar_ou_sair(escolha)
        if menu is not None:
            return menu
        acao = textos.BOTAO_ACAO.match(escolha or "")
        if acao and agendamento is not None:
            return acao_agendamento(ctx, acao["acao"], agendamento)
        return Reply(
            messages=[
                kit.text(
                    _("Toque em uma das opções: %(opcoes)s.")
                    % {"opcoes": ", ".join(t for _i, t in opcoes)}
                )
            ],
            next_step=MEU_HORARIO,
        )


# --- Actions on one appointment (reminder buttons, "Meu horário") ----------------------


def acao_agendamento(ctx: Context, acao: str, agendamento: Agendamento) -> Reply:
    """Confirm, cancel, reschedule or book again `agendamento` (already checked to be this
    customer's). Confirm and cancel leave the conversation where it was."""
    if acao == textos.CONFIRMAR:
        if agendamento.status == Agendamento.Status.CONFIRMADO:
            texto = _("Seu horário de %(resumo)s já está confirmado. Até lá! 😊")
        else:
            try:
                agenda_services.agendamento_confirmar(agendamento=agendamento)
            except ValidationError as exc:
                return Reply(messages=[kit.text(" ".join(exc.messages))])
            texto = _("Obrigado! Seu horário de %(resumo)s está confirmado. Até lá! 😊")
        return Reply(messages=[kit.text(texto % {"resumo": textos.resumo(agendamento)})])
    if acao == textos.CANCELAR:
        if agendamento.status == Agendamento.Status.CANCELADO:
            return Reply(messages=[kit.text(_("Esse horário já estava cancelado."))])
        try:
            agenda_services.agendamento_cancelar(
                agendamento=agendamento, motivo=_("Cancelado pelo cliente no WhatsApp")
            )
        except AgendaIndisponivel:
            return Reply(messages=[kit.text(_indisponivel())])
        except ValidationError as exc:
            return Reply(messages=[kit.text(" ".join(exc.messages))])
        auditar(
            acao="agendamento.cancel",
            agendamento=agendamento,
            cliente=ctx.cliente,
            changes={
                "status": [agendamento.status, Agendamento.Status.CANCELADO],
                "canal": [None, "whatsapp"],
            },
        )
        return Reply(
            messages=[
                kit.text(
                    _(
                        "Pronto, cancelei seu horário de %(resumo)s. Se quiser marcar outro, "
                        "é só chamar. 😊"
                    )
                    % {"resumo": textos.resumo(agendamento)}
                )
            ]
        )
    if acao == textos.REAGENDAR:
        if not agendamento.ativo or agendamento.inicio <= timezone.now():
            return Reply(
                messages=[
                    kit.text(
                        _("Esse agendamento está %(status)s e não pode ser remarcado.")
                        % {"status": _status(agendamento)}
                    )
                ]
            )
        return entrar_na_agenda(
            ctx,
            estado={K_SERVICO: agendamento.servico_id, K_REAGENDAR: agendamento.pk},
            mensagens=[],
        )
    if acao == textos.REMARCAR:
        return entrar_na_agenda(ctx, estado={K_SERVICO: agendamento.servico_id}, mensagens=[])
    raise ValueError(f"unknown appointment action {acao!r}")


def _fluxo_tem_agenda(ctx: Context) -> bool:
    """Whether this bot's flow has the day, time and confirm steps of the agenda flow."""
    precisa = {
        (DIA, EscolherDiaHandler.path()),
        (HORARIO, EscolherHorarioHandler.path()),
        (CONFIRMAR, ConfirmarAgendamentoHandler.path()),
    }
    tem = set(
        Step.objects.filter(
            chatbot=ctx.chatbot, active=True, code__in=[c for c, _p in precisa]
        ).values_list("code", "handler_path")
    )
    return precisa <= tem


def entrar_na_agenda(ctx: Context, *, estado: dict[str, Any], mensagens: list) -> Reply:
    """Move the conversation to the choose-day step, from wherever it is: the bot's own
    agenda step when its flow has one, else the embedded agenda steps."""
    estado = {**LIMPO, K_COMENTARIO: ctx.state.get(K_COMENTARIO), **estado}
    if _fluxo_tem_agenda(ctx):
        return Reply(messages=mensagens, state=estado, next_step=DIA)
    estado[K_VOLTA] = ctx.conversation.current_step or None
    return _embutido(ctx, Reply(messages=mensagens, state=estado, next_step=DIA), atual=None)


# --- Embedded agenda steps -------------------------------------------------------------

EMBUTIVEIS: dict[str, type[Handler]] = {
    SERVICO: EscolherServicoHandler,
    DIA: EscolherDiaHandler,
    HORARIO: EscolherHorarioHandler,
    CONFIRMAR: ConfirmarAgendamentoHandler,
}


def _embutido(ctx: Context, reply: Reply, *, atual: str | None) -> Reply:
    """Carry `reply` on the way the engine would (enter the next steps, chain "say and go
    on"), for agenda steps run inside a bot whose own flow has none. The step reached is
    kept in state[K_EMBUTIDA]; when the agenda part ends, the conversation goes back to the
    step it was at (state[K_VOLTA]), which the engine enters again."""
    mensagens = list(reply.messages)
    estado = {**ctx.state, **reply.state}
    proximo = reply.next_step
    for _hop in range(MAX_HOPS):
        if reply.end or reply.handoff or not proximo:
            break
        if proximo not in EMBUTIVEIS:  # e.g. "Voltar" to the agenda menu: leave the agenda
            reply = Reply(end=True)
            break
        atual = proximo
        sub = replace(ctx, step=None, message=None, state=dict(estado))
        reply = EMBUTIVEIS[atual]().enter(sub)
        mensagens += reply.messages
        estado.update(reply.state)
        proximo = reply.next_step if reply.next_step != atual else None
    if reply.end or reply.handoff or atual is None:
        volta = estado.get(K_VOLTA)
        if volta and not Step.objects.filter(chatbot=ctx.chatbot, code=volta, active=True).exists():
            volta = None
        return Reply(
            messages=mensagens,
            state={**LIMPO, K_COMENTARIO: estado.get(K_COMENTARIO)},
            next_step=None if reply.handoff else volta,
            handoff=reply.handoff,
        )
    return Reply(messages=mensagens, state={**estado, K_EMBUTIDA: atual})


# --- The interceptor -------------------------------------------------------------------


def interceptar(ctx: Context) -> Reply | None:
    """The `appointment_buttons` interceptor: buttons that carry an appointment, the
    comment after a satisfaction score, and embedded agenda steps. None: not ours."""
    if ctx.message is None:
        return None
    reply_id = ctx.reply_id
    acao = textos.BOTAO_ACAO.match(reply_id)
    if acao:
        agendamento = _agendamento_do_cliente(ctx, acao["id"])
        if agendamento is None:
            return Reply(messages=[kit.text(_("Não encontrei esse agendamento."))])
        if acao["acao"] != textos.REMARCAR:
            agendamento = _versao_atual(agendamento)
        return acao_agendamento(ctx, acao["acao"], agendamento)
    nota = textos.BOTAO_NOTA.match(reply_id)
    if nota:
        return _avaliar(ctx, agendamento_id=nota["id"], nota=int(nota["nota"]))
    por_template = _botao_de_template(ctx)
    if por_template is not None:
        return por_template
    aguardando = ctx.state.get(K_COMENTARIO)
    if aguardando and ctx.message.type == "text" and not reply_id and ctx.text:
        agendamento = _agendamento_do_cliente(ctx, aguardando)
        if agendamento is not None:
            agenda_services.feedback_comentar(agendamento=agendamento, comentario=ctx.text)
        return Reply(
            messages=[kit.text(_("Obrigado pelo comentário! 🙏"))], state={K_COMENTARIO: None}
        )
    atual = ctx.state.get(K_EMBUTIDA)
    if atual in EMBUTIVEIS:
        sub = replace(ctx, step=None)
        return _embutido(ctx, EMBUTIVEIS[atual]().handle(sub), atual=atual)
    return None


def _versao_atual(agendamento: Agendamento) -> Agendamento:
    """An old reminder's buttons stay in the chat after a reschedule: they act on the
    appointment it became (Agendamento.reagendado_para), not on the moved one."""
    for _hop in range(MAX_HOPS):
        if (
            agendamento.status != Agendamento.Status.REAGENDADO
            or not agendamento.reagendado_para_id
        ):
            break
        agendamento = Agendamento.objects.select_related("servico", "tenant", "cliente").get(
            pk=agendamento.reagendado_para_id
        )
    return agendamento


def _avaliar(ctx: Context, *, agendamento_id: str, nota: int) -> Reply:
    agendamento = _agendamento_do_cliente(ctx, agendamento_id)
    if agendamento is None:
        return Reply(messages=[kit.text(_("Não encontrei esse agendamento."))])
    try:
        agenda_services.feedback_registrar(agendamento=agendamento, nota=nota)
    except ValidationError as exc:
        return Reply(messages=[kit.text(" ".join(exc.messages))])
    return Reply(
        messages=[
            kit.text(
                _(
                    "Obrigado pela avaliação! 💙 Se quiser, escreva em uma mensagem o que "
                    "achou (é opcional)."
                )
            )
        ],
        state={K_COMENTARIO: agendamento.pk},
    )


_ACOES_DIGITADAS = {
    "confirmar": textos.CONFIRMAR,
    "reagendar": textos.REAGENDAR,
    "cancelar": textos.CANCELAR,
}


_NOTAS_DIGITADAS = {"otimo": 5, "bom": 3, "ruim": 1}


def _botao_de_template(ctx: Context) -> Reply | None:
    """A quick-reply tap on one of the agenda's TEMPLATES (sent outside the 24-hour window).

    Template buttons carry a payload fixed when the template was approved, not the
    appointment id; so the tap counts only when it answers (context) an agenda template we
    sent in this conversation, and which appointment it is about follows from the
    template's purpose (agenda.notificacoes): the next one for a reminder (Confirmar /
    Reagendar / Cancelar), the last missed one for the no-show offer (any button: book
    again), the last rated-to-be one for the survey (Ótimo / Bom / Ruim).
    """
    if ctx.message.type != "button" or not ctx.message.context_id:
        return None
    from agenda import notificacoes

    payload = (
        Message.objects.filter(
            conversation=ctx.conversation,
            direction=Message.Direction.OUT,
            provider_message_id=ctx.message.context_id,
            type="template",
        )
        .values_list("payload", flat=True)
        .first()
    )
    nome = (payload or {}).get("name")
    usos = {
        notificacoes.TEMPLATE_LEMBRETE,
        notificacoes.TEMPLATE_NO_SHOW,
        notificacoes.TEMPLATE_FOLLOWUP,
    }
    uso = (
        MessageTemplate.objects.filter(chatbot=ctx.chatbot, name=nome, purpose__in=usos)
        .values_list("purpose", flat=True)
        .first()
        if nome
        else None
    )
    tocado = [normalize(ctx.text), normalize(ctx.reply_id)]
    if uso == notificacoes.TEMPLATE_LEMBRETE:
        acao = next((_ACOES_DIGITADAS[t] for t in tocado if t in _ACOES_DIGITADAS), None)
        if acao is None:
            return None
        agendamento = agenda_selectors.agendamento_proximo(cliente=ctx.cliente)
        if agendamento is None:
            return Reply(messages=[kit.text(_("Você não tem nenhum horário marcado no momento."))])
        return acao_agendamento(ctx, acao, agendamento)
    if uso == notificacoes.TEMPLATE_NO_SHOW:
        agendamento = agenda_selectors.agendamento_ultima_falta(cliente=ctx.cliente)
        if agendamento is None:
            return None
        return acao_agendamento(ctx, textos.REMARCAR, agendamento)
    if uso == notificacoes.TEMPLATE_FOLLOWUP:
        nota = next(
            (
                _NOTAS_DIGITADAS[palavra]
                for t in tocado
                for palavra in t.split()
                if palavra in _NOTAS_DIGITADAS
            ),
            None,
        )
        agendamento = agenda_selectors.agendamento_ultimo_avaliavel(cliente=ctx.cliente)
        if nota is None or agendamento is None:
            return None
        return _avaliar(ctx, agendamento_id=str(agendamento.pk), nota=nota)
    return None


# --- Audit -----------------------------------------------------------------------------


def auditar(*, acao: str, agendamento: Agendamento, cliente, changes: dict) -> None:
    """Record the customer's change in compliance's audit log (compliance.audit.record),
    when that app is installed: it is written separately, so it is imported lazily and
    skipped when absent. An audit failure is logged there, never turned into a failed
    booking (record_quietly)."""
    try:
        from compliance import audit
    except ImportError as exc:
        if getattr(exc, "name", "") in ("compliance", "compliance.audit"):
            return
        raise
    record = getattr(audit, "record_quietly", None) or getattr(audit, "record", None)
    if record is None:
        return
    customer_actor = getattr(audit, "customer_actor", None)
    ator = customer_actor(cliente) if customer_actor else f"cliente:{cliente.pk}"
    record(tenant=agendamento.tenant, actor=ator, action=acao, obj=agendamento, changes=changes)
