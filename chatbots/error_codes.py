"""Names for the error codes a message keeps (Message.error_code), so the admin shows
"131047 · janela de 24 horas fechada" instead of a bare number.

Meta's codes are from https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes;
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


def error_code_label(code: str) -> str:
    if not code:
        return ""
    name = NAMES.get(str(code))
    return f"{code} · {name}" if name else str(code)
