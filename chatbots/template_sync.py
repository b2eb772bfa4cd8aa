"""Templates kept in step with Meta: submit, edit, delete, sync, and status changes.

* `template_submit` checks the definition against Meta's limits
  (chatbots.message_templates.definition_problems) before anything leaves, then creates
  the template at Meta (or edits it, when Meta already has it) and records Meta's id and
  status (PENDING while in review).
* `template_delete` deletes it at Meta, then here.
* `templates_sync(chatbot=)` pulls every template of the bot's WABA with its status, so
  templates made in Meta's manager appear too; the periodic task (config/schedule.py) runs
  `templates_sync_all`, the admin action runs it for the chosen bots.
* `template_status_apply` is what the status, quality and category webhooks change
  (chatbots.account_events).

`approved` (what sending checks) always follows the status: APPROVED and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbots import message_templates
from chatbots.models import Chatbot, MessageTemplate
from chatbots.providers import meta_templates
from chatbots.providers.base import ProviderError

logger = logging.getLogger(__name__)

Status = MessageTemplate.Status


class TemplateInvalid(ValueError):
    """The definition breaks Meta's rules; `problems` lists them in pt-BR."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _meta_status(raw: str) -> str:
    raw = (raw or "").upper()
    return raw if raw in Status.values else Status.PENDING


def template_definition_prepare(*, template: MessageTemplate) -> MessageTemplate:
    """Before saving a definition: its parameter count follows the body, and `approved`
    follows Meta's status (a template typed by hand keeps its box)."""
    if template.body_text:
        template.param_count = len(message_templates.body_params(template))
    if template.status and template.status != Status.MANUAL:
        template.approved = template.status == Status.APPROVED
    return template


def template_definition_save(*, template: MessageTemplate) -> MessageTemplate:
    """Save a definition edited here (template_definition_prepare, then save)."""
    template_definition_prepare(template=template).save()
    return template


def template_submit(*, template: MessageTemplate) -> MessageTemplate:
    """Submit (or resubmit after an edit) `template` to Meta for review.

    TemplateInvalid when the definition breaks Meta's limits (nothing is sent);
    ProviderError when Meta refuses or cannot be reached.
    """
    if problems := message_templates.definition_problems(template):
        raise TemplateInvalid(problems)
    chatbot = template.chatbot
    body = message_templates.submit_body(template)
    if template.meta_id:
        # Only the components and the category of an existing template can change.
        edit = {"components": body["components"], "category": body["category"]}
        meta_templates.template_edit(chatbot, template.meta_id, edit)
        answer = {"status": Status.PENDING}
    else:
        answer = meta_templates.template_create(chatbot, body)
        template.meta_id = str(answer.get("id") or "")
    template.status = _meta_status(str(answer.get("status") or ""))
    template.category = str(answer.get("category") or template.category).upper()
    template.status_reason = ""
    template.status_updated_at = timezone.now()
    template_definition_save(template=template)
    logger.info(
        "template submitted",
        extra={"template_id": template.pk, "meta_id": template.meta_id, "status": template.status},
    )
    return template


def template_delete(*, template: MessageTemplate) -> None:
    """Delete `template` at Meta (this language only, when Meta gave its id), then here.
    A template Meta never had (a draft, one typed by hand) is only deleted here."""
    if template.meta_id:
        meta_templates.template_delete(
            template.chatbot, name=template.name, meta_id=template.meta_id
        )
    template.delete()


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    error: str = ""


def templates_sync(*, chatbot: Chatbot) -> SyncResult:
    """Pull every template of the bot's WABA with its status; a template Meta no longer
    lists (deleted in Meta's manager) is kept here as DELETED, not sendable."""
    result = SyncResult()
    try:
        remote = meta_templates.templates_list(chatbot)
    except ProviderError as exc:
        result.error = f"{exc.code}: {exc.detail}" if exc.detail else exc.code
        logger.warning("template sync failed", extra={"chatbot_id": chatbot.pk, "code": exc.code})
        return result
    now = timezone.now()
    local = {(t.name, t.language): t for t in MessageTemplate.objects.filter(chatbot=chatbot)}
    seen: set[tuple[str, str]] = set()
    with transaction.atomic():
        for data in remote:
            key = (str(data.get("name") or ""), str(data.get("language") or ""))
            if not all(key):
                continue
            seen.add(key)
            fields = message_templates.fields_from_meta(data)
            row = local.get(key)
            if row is None:
                row = MessageTemplate(
                    tenant_id=chatbot.tenant_id, chatbot=chatbot, name=key[0], language=key[1]
                )
                result.created.append(f"{key[0]} ({key[1]})")
            else:
                result.updated.append(f"{key[0]} ({key[1]})")
                if row.status != fields["status"]:
                    row.status_updated_at = now
            for name, value in fields.items():
                setattr(row, name, value)
            if fields["status"] == Status.APPROVED:
                row.status_reason = ""
            row.status = _meta_status(fields["status"])
            row.approved = row.status == Status.APPROVED
            row.synced_at = now
            row.save()
        for key, row in local.items():
            if key in seen or not row.meta_id or row.status == Status.DELETED:
                continue
            row.status, row.approved, row.synced_at = Status.DELETED, False, now
            row.status_updated_at = now
            row.save(update_fields=["status", "approved", "synced_at", "status_updated_at"])
            result.gone.append(f"{key[0]} ({key[1]})")
    logger.info(
        "templates synced",
        extra={
            "chatbot_id": chatbot.pk,
            "created": len(result.created),
            "updated": len(result.updated),
            "gone": len(result.gone),
        },
    )
    return result


def templates_sync_all() -> int:
    """The periodic sync: every active Meta bot with a WABA id and a token. Returns how
    many bots synced without error."""
    bots = Chatbot.objects.filter(provider="meta", active=True).exclude(waba_id="")
    synced = 0
    for chatbot in bots.order_by("pk"):
        if not chatbot.access_token:
            continue
        synced += not templates_sync(chatbot=chatbot).error
    return synced


# --- What the webhooks change ----------------------------------------------------------------


def template_status_apply(
    *,
    chatbots: list[Chatbot],
    name: str,
    language: str,
    meta_id: str,
    at: datetime,
    status: str = "",
    reason: str = "",
    category: str = "",
    quality: str = "",
) -> list[MessageTemplate]:
    """Apply one webhook's news to the bots' template (found by Meta's id, else by name and
    language); a template Meta knows and we do not yet is created, to be filled by the next
    sync. Returns the templates changed."""
    changed = []
    for chatbot in chatbots:
        rows = MessageTemplate.objects.filter(chatbot=chatbot)
        row = (rows.filter(meta_id=meta_id).first() if meta_id else None) or rows.filter(
            name=name, language=language
        ).first()
        if row is None:
            if not (name and language):
                continue
            row = MessageTemplate(
                tenant_id=chatbot.tenant_id,
                chatbot=chatbot,
                name=name,
                language=language,
                status=Status.PENDING,
            )
        if meta_id:
            row.meta_id = meta_id
        if status:
            row.status = _meta_status(status)
            row.approved = row.status == Status.APPROVED
            row.status_reason = "" if row.approved else reason
            row.status_updated_at = at
        if category:
            row.category = category.upper()
        if quality:
            row.quality_score = quality.upper()
        row.save()
        changed.append(row)
    return changed


def status_label(template: MessageTemplate) -> str:
    """The template's state as the tenant reads it (pt-BR)."""
    label = str(template.get_status_display())
    if template.status_reason and not template.approved:
        return _("%(status)s: %(reason)s") % {"status": label, "reason": template.status_reason}
    return label
