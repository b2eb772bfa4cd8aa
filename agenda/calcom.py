"""Cal.com API v2 client and webhook signature check (Cal.com: https://cal.com/docs/api-reference/v2).

API v1 was shut down in April 2026; v2 authenticates with `Authorization: Bearer <key>` and
needs a `cal-api-version` header per endpoint; without it Cal.com silently answers with an
older version of the endpoint. Base URL from CAL_API_BASE_URL, so self-hosted instances and
tests (a fake server on 127.0.0.1) work. All HTTP goes through config.http.

Any failure to talk to Cal.com (timeout, refused connection, 5xx, an error body) becomes
AgendaIndisponivel, whose text the customer may read; a refused booking because the time
is no longer free becomes SlotTaken.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from agenda.errors import AgendaIndisponivel, SlotTaken
from config import http

logger = logging.getLogger(__name__)

# cal-api-version per endpoint (Cal.com: https://cal.com/docs/api-reference/v2).
SLOTS_API_VERSION = "2024-09-04"
BOOKINGS_API_VERSION = "2024-08-13"

# The literal header value Cal.com sends when the webhook has no secret (Cal.com: https://cal.com/docs/developing/guides/automation/webhooks).
NO_SECRET = "no-secret-provided"

# Phrases of Cal.com's booking errors that mean "that time is not free any more".
_TAKEN_PHRASES = (
    "already has booking",
    "not available",
    "no_available_users",
    "no available users",
    "booking_time_out_of_bounds",
    "already booked",
)


class CalErro(AgendaIndisponivel):
    """Cal.com answered with an error; `status_code` and `codigo` say which (never shown)."""

    def __init__(self, *, status_code: int, codigo: str = "", detalhe: str = ""):
        super().__init__()
        self.status_code = status_code
        self.codigo = codigo
        self.detalhe = detalhe

    def __repr__(self) -> str:
        return f"CalErro({self.status_code}, {self.codigo!r}, {self.detalhe!r})"


@dataclass(frozen=True)
class CalHorario:
    inicio: datetime
    fim: datetime | None  # present when Cal.com sends it; else the caller adds the duration


@dataclass(frozen=True)
class CalReserva:
    uid: str
    inicio: datetime | None
    fim: datetime | None


def _url(path: str) -> str:
    base = settings.CAL_API_BASE_URL.rstrip("/")
    if base.endswith("/v2"):  # accept the documented ".../v2" spelling of the base URL too
        base = base[: -len("/v2")]
    return base + path


def _call(
    method: str,
    path: str,
    *,
    api_key: str,
    versao: str,
    params: dict[str, Any] | None = None,
    json: dict[str, Any] | None = None,
) -> dict[str, Any]:
    headers = {"cal-api-version": versao}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        resposta = http.request(method, _url(path), params=params, json=json, headers=headers)
    except http.HTTPError as exc:
        logger.warning("cal.com unreachable", extra={"path": path, "error": str(exc)})
        raise AgendaIndisponivel() from exc
    try:
        corpo = resposta.json()
    except ValueError:
        corpo = None
    if not isinstance(corpo, dict):
        corpo = {}
    if resposta.status_code >= 400 or corpo.get("status") == "error":
        erro = corpo.get("error") if isinstance(corpo.get("error"), dict) else {}
        exc = CalErro(
            status_code=resposta.status_code,
            codigo=str(erro.get("code", "")),
            detalhe=str(erro.get("message", ""))[:500],
        )
        logger.warning(
            "cal.com error",
            extra={"path": path, "status": resposta.status_code, "code": exc.codigo},
        )
        raise exc
    return corpo


def parse_datetime(valor: Any) -> datetime | None:
    if not isinstance(valor, str) or not valor:
        return None
    try:
        parsed = datetime.fromisoformat(valor.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _utc_iso(valor: datetime) -> str:
    return valor.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def horario_list(
    *, api_key: str, event_type_id: int, primeiro_dia: date, ultimo_dia: date, fuso: str
) -> list[CalHorario]:
    """Free start times of an event type from the first to the last day (inclusive, in `fuso`).

    GET /v2/slots answers `{status, data: {"YYYY-MM-DD": [{start[, end]}]}}`.
    """
    tz = ZoneInfo(fuso)
    inicio = datetime.combine(primeiro_dia, time.min, tzinfo=tz)
    fim = datetime.combine(ultimo_dia + timedelta(days=1), time.min, tzinfo=tz)
    corpo = _call(
        "GET",
        "/v2/slots",
        api_key=api_key,
        versao=SLOTS_API_VERSION,
        params={
            "eventTypeId": event_type_id,
            "start": _utc_iso(inicio),
            "end": _utc_iso(fim - timedelta(seconds=1)),
            "timeZone": fuso,
        },
    )
    dados = corpo.get("data")
    if not isinstance(dados, dict):
        raise CalErro(status_code=200, codigo="bad_body", detalhe="slots without data")
    horarios = []
    for lista in dados.values():
        for item in lista if isinstance(lista, list) else []:
            inicio_slot = parse_datetime(item.get("start") if isinstance(item, dict) else item)
            if inicio_slot is None:
                continue
            fim_slot = parse_datetime(item.get("end")) if isinstance(item, dict) else None
            horarios.append(CalHorario(inicio=inicio_slot, fim=fim_slot))
    horarios.sort(key=lambda h: h.inicio)
    return horarios


def _reserva_from_body(corpo: dict[str, Any]) -> CalReserva:
    dados = corpo.get("data")
    if isinstance(dados, list):  # recurring bookings answer a list; we book single ones
        dados = dados[0] if dados else None
    if not isinstance(dados, dict) or not dados.get("uid"):
        raise CalErro(status_code=200, codigo="bad_body", detalhe="booking without uid")
    return CalReserva(
        uid=str(dados["uid"]),
        inicio=parse_datetime(dados.get("start")),
        fim=parse_datetime(dados.get("end")),
    )


def _is_taken(exc: CalErro) -> bool:
    if exc.status_code == 409:
        return True
    if exc.status_code != 400:
        return False
    texto = f"{exc.codigo} {exc.detalhe}".lower()
    return any(frase in texto for frase in _TAKEN_PHRASES)


def reserva_create(
    *,
    api_key: str,
    event_type_id: int,
    inicio: datetime,
    nome: str,
    fuso: str,
    telefone: str = "",
    email: str = "",
    idioma: str = "pt-BR",
    metadata: dict[str, str] | None = None,
) -> CalReserva:
    """POST /v2/bookings. The attendee needs an email or a phone (E.164, with "+")."""
    attendee: dict[str, Any] = {"name": nome or "Cliente", "timeZone": fuso, "language": idioma}
    if telefone:
        attendee["phoneNumber"] = telefone if telefone.startswith("+") else f"+{telefone}"
    if email:
        attendee["email"] = email
    body: dict[str, Any] = {
        "start": _utc_iso(inicio),
        "eventTypeId": event_type_id,
        "attendee": attendee,
    }
    if metadata:
        # Cal.com accepts at most 50 metadata keys of string values.
        body["metadata"] = {str(k): str(v)[:500] for k, v in list(metadata.items())[:50]}
    try:
        corpo = _call(
            "POST", "/v2/bookings", api_key=api_key, versao=BOOKINGS_API_VERSION, json=body
        )
    except CalErro as exc:
        if _is_taken(exc):
            raise SlotTaken() from exc
        raise
    return _reserva_from_body(corpo)


def reserva_cancel(*, api_key: str, uid: str, motivo: str = "") -> None:
    """POST /v2/bookings/{uid}/cancel. A booking Cal.com no longer knows counts as cancelled."""
    body = {"cancellationReason": motivo} if motivo else {}
    try:
        _call(
            "POST",
            f"/v2/bookings/{uid}/cancel",
            api_key=api_key,
            versao=BOOKINGS_API_VERSION,
            json=body,
        )
    except CalErro as exc:
        if exc.status_code == 404:
            return
        raise


def reserva_reschedule(
    *, api_key: str, uid: str, novo_inicio: datetime, motivo: str = ""
) -> CalReserva:
    """POST /v2/bookings/{uid}/reschedule. Cal.com answers 201 with a NEW booking uid."""
    body: dict[str, Any] = {"start": _utc_iso(novo_inicio)}
    if motivo:
        body["reschedulingReason"] = motivo
    try:
        corpo = _call(
            "POST",
            f"/v2/bookings/{uid}/reschedule",
            api_key=api_key,
            versao=BOOKINGS_API_VERSION,
            json=body,
        )
    except CalErro as exc:
        if _is_taken(exc):
            raise SlotTaken() from exc
        raise
    return _reserva_from_body(corpo)


def verify_signature(*, raw_body: bytes, header: str | None, secret: str) -> bool:
    """True when `header` (X-Cal-Signature-256) is the hex HMAC-SHA256 of the raw body.

    Cal.com sends bare lowercase hex; a "sha256=" prefix is tolerated. Without a configured
    secret nothing is accepted: an unsigned webhook could come from anyone.
    """
    if not secret or not header:
        return False
    valor = header.strip()
    if valor[:7].lower() == "sha256=":
        valor = valor[7:]
    if valor == NO_SECRET:
        return False
    esperado = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(esperado.encode(), valor.lower().encode("utf-8", "replace"))
