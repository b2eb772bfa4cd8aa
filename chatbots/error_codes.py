"""Names for the codes Meta gives us, so a business user never reads a bare code: the error
codes a message keeps (Message.error_code; the admin shows "131047 · janela de 24 horas
fechada"), and a number's quality rating and messaging limit (Chatbot.quality_rating,
.messaging_limit_tier; the staff app's bot pages and the connection test).

Meta's error codes are from https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes,
the quality and tiers from https://developers.facebook.com/docs/whatsapp/messaging-limits;
a code missing here is shown as it is.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

NAMES = {
    "100": _("parâmetro inválido"),
    "190": _("token de acesso expirado ou inválido"),
    "368": _("número bloqueado temporariamente por violar políticas"),
    "130429": _("limite de envios por segundo atingido"),
    "131000": _("erro desconhecido na Meta"),
    "131005": _("permissão negada"),
    "131008": _("falta um parâmetro obrigatório"),
    "131009": _("valor de parâmetro inválido"),
    "131016": _("serviço da Meta indisponível"),
    "131026": _("mensagem não entregável (número sem WhatsApp ou app desatualizado)"),
    "131031": _("conta bloqueada"),
    "131047": _("janela de 24 horas fechada: só um modelo aprovado pode ser enviado"),
    "131048": _("limite por spam atingido (muitas mensagens bloqueadas ou denunciadas)"),
    "131049": _("a Meta não entregou a mensagem de marketing"),
    "131050": _("o cliente parou de receber mensagens de marketing"),
    "131051": _("tipo de mensagem não suportado"),
    "131052": _("falha ao baixar a mídia"),
    "131053": _("falha ao enviar a mídia"),
    "131056": _("muitas mensagens para o mesmo número em pouco tempo"),
    "132000": _("número de variáveis do modelo não confere"),
    "132001": _("modelo inexistente ou não aprovado nesse idioma"),
    "132015": _("modelo pausado por baixa qualidade"),
    "132016": _("modelo desativado por baixa qualidade"),
    "simulation": _("simulação: nada foi enviado"),
    "evolution_error": _("a Evolution API informou falha"),
}


# A number's quality and messaging limit, said as an owner reads them.
QUALITY_NAMES = {
    "GREEN": _("alta (verde)"),
    "YELLOW": _("média (amarela)"),
    "RED": _("baixa (vermelha)"),
    "UNKNOWN": _("ainda sem avaliação"),
}
TIER_NAMES = {
    "TIER_50": _("até 50 conversas iniciadas por dia"),
    "TIER_250": _("até 250 conversas iniciadas por dia"),
    "TIER_1K": _("até 1.000 conversas iniciadas por dia"),
    "TIER_10K": _("até 10.000 conversas iniciadas por dia"),
    "TIER_100K": _("até 100.000 conversas iniciadas por dia"),
    "TIER_UNLIMITED": _("sem limite de conversas iniciadas"),
}


def quality_name(code: str) -> str:
    return str(QUALITY_NAMES.get(code, code))


def tier_name(code: str) -> str:
    return str(TIER_NAMES.get(code, code))


def error_code_label(code: str) -> str:
    if not code:
        return ""
    name = NAMES.get(str(code))
    return f"{code} · {name}" if name else str(code)
