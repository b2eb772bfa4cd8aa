"""Meta's template management API: create, edit, delete and list a WABA's templates.

Endpoints (Meta: https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates/
and https://developers.facebook.com/docs/graph-api/reference/whats-app-business-hsm/),
all under `{WHATSAPP_GRAPH_API_URL}/{WHATSAPP_GRAPH_API_VERSION}` through config/http.py:

* `POST /{waba-id}/message_templates` with the definition: `{id, status, category}`;
* `POST /{template-id}` with the new components (or category): `{success: true}`;
* `DELETE /{waba-id}/message_templates?name=...[&hsm_id=...]`: `{success: true}`;
* `GET /{waba-id}/message_templates?fields=...&limit=...`: `{data: [...], paging}`, page by
  page through `paging.cursors.after` while `paging.next` is there.

Errors are Meta's (`chatbots.providers.meta.error_from_response`), raised as ProviderError.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext as _

from chatbots.providers.base import ProviderError, http_call
from chatbots.providers.meta import error_from_response

if TYPE_CHECKING:
    from chatbots.models import Chatbot

LIST_FIELDS = (
    "id,name,language,status,category,components,parameter_format,quality_score,rejected_reason"
)
PAGE_SIZE = 100
MAX_PAGES = 50  # 5,000 templates; a WABA may hold at most 6,000 (Meta's template limits)


def _base() -> str:
    return f"{settings.WHATSAPP_GRAPH_API_URL.rstrip('/')}/{settings.WHATSAPP_GRAPH_API_VERSION}"


def _headers(chatbot: Chatbot) -> dict[str, str]:
    if not chatbot.waba_id or not chatbot.access_token:
        raise ProviderError(
            "not_configured",
            _(
                "O chatbot “%(bot)s” não tem WABA ID ou token de acesso da Meta: preencha os "
                "dois no cadastro do chatbot para gerenciar modelos de mensagem."
            )
            % {"bot": chatbot.name},
            retryable=False,
        )
    return {"Authorization": f"Bearer {chatbot.access_token}"}


def _call(
    method: str, url: str, chatbot: Chatbot, *, headers: dict | None = None, **kwargs: Any
) -> dict:
    response = http_call(
        method,
        url,
        headers=headers or _headers(chatbot),
        error_from_response=error_from_response,
        tenant_url=False,  # WHATSAPP_GRAPH_API_URL is the operator's setting
        **kwargs,
    )
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProviderError(
            "invalid_response",
            _("A Meta respondeu algo que não é JSON: %(body)s") % {"body": response.text[:200]},
            retryable=False,
        )
    return data


def _app_id(chatbot: Chatbot) -> str:
    config = chatbot.provider_config if isinstance(chatbot.provider_config, dict) else {}
    app_id = str(config.get("app_id") or settings.WHATSAPP_APP_ID or "").strip()
    if not (app_id.isascii() and app_id.isdigit()):  # a Graph id; anything else changes the path
        raise ProviderError(
            "not_configured",
            _(
                "Falta o ID do app da Meta (só números) para enviar o arquivo de exemplo: "
                "preencha “app_id” na configuração do provedor do chatbot “%(bot)s” (ou "
                "WHATSAPP_APP_ID no servidor)."
            )
            % {"bot": chatbot.name},
            retryable=False,
        )
    return app_id


def sample_upload(
    chatbot: Chatbot, *, file_name: str, file_type: str, content: bytes | IO[bytes], length: int
) -> str:
    """Upload a media header's sample file; Meta's handle for `header_handle`."""
    headers = _headers(chatbot)  # refuses a bot without WABA id or token, before any call
    session = _call(
        "POST",
        f"{_base()}/{_app_id(chatbot)}/uploads",
        chatbot,
        params={"file_name": file_name, "file_length": length, "file_type": file_type},
    )
    session_id = str(session.get("id") or "")
    if not session_id.startswith("upload:"):
        raise ProviderError(
            "invalid_response",
            _("A Meta não abriu a sessão de envio do arquivo: %(body)s") % {"body": session},
            retryable=False,
        )
    token = headers["Authorization"].removeprefix("Bearer ")
    answer = _call(
        "POST",
        f"{_base()}/{session_id}",
        chatbot,
        data=content,
        headers={"Authorization": f"OAuth {token}", "file_offset": "0"},
    )
    handle = str(answer.get("h") or "")
    if not handle:
        raise ProviderError(
            "invalid_response",
            _("A Meta recebeu o arquivo mas não devolveu o identificador: %(body)s")
            % {"body": answer},
            retryable=False,
        )
    return handle


def template_create(chatbot: Chatbot, body: dict[str, Any]) -> dict:
    """Submit a new template for review: Meta's `{id, status, category}`."""
    return _call("POST", f"{_base()}/{chatbot.waba_id}/message_templates", chatbot, json=body)


def template_edit(chatbot: Chatbot, meta_id: str, body: dict[str, Any]) -> dict:
    """Change an existing template's components or category (it goes back to review)."""
    return _call("POST", f"{_base()}/{meta_id}", chatbot, json=body)


def template_delete(chatbot: Chatbot, *, name: str, meta_id: str = "") -> dict:
    """Delete a template: with `meta_id` only that language's, else every language's."""
    params = {"name": name}
    if meta_id:
        params["hsm_id"] = meta_id
    return _call("DELETE", f"{_base()}/{chatbot.waba_id}/message_templates", chatbot, params=params)


def templates_list(chatbot: Chatbot) -> list[dict]:
    """Every template of the bot's WABA, all pages."""
    url = f"{_base()}/{chatbot.waba_id}/message_templates"
    params: dict[str, Any] = {"fields": LIST_FIELDS, "limit": PAGE_SIZE}
    templates: list[dict] = []
    for _page in range(MAX_PAGES):
        data = _call("GET", url, chatbot, params=params)
        templates += [t for t in data.get("data") or [] if isinstance(t, dict)]
        paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
        after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        if not after:
            break
        params = {**params, "after": after}
    return templates
