"""Files customers send (and businesses attach), kept in Django's storage.

`MediaFile` is the stored file, once per tenant and content (sha256): the same photo sent
twice, or by two customers, takes the space once. `Attachment` ties one message to its file
and records the download's progress, so a message is never lost because its file was.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned
from chatbots.models import Message


class MediaFile(TenantOwned):
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    content_type = models.CharField(_("tipo MIME"), max_length=100)
    size = models.PositiveBigIntegerField(_("tamanho (bytes)"))
    file = models.FileField(_("arquivo"), max_length=255)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("arquivo")
        verbose_name_plural = _("arquivos")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sha256"], name="mediafile_unique_hash")
        ]

    def __str__(self) -> str:
        return f"{self.content_type} {self.sha256[:12]}"


class Attachment(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Baixando")
        STORED = "stored", _("Guardado")
        REFUSED = "refused", _("Recusado")
        FAILED = "failed", _("Falhou")

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="attachment")
    kind = models.CharField(_("tipo"), max_length=16)  # image, audio, video, document, sticker
    provider_media_id = models.CharField(_("ID no provedor"), max_length=255, blank=True)
    url = models.URLField(_("link"), max_length=2000, blank=True)
    filename = models.CharField(_("nome do arquivo"), max_length=255, blank=True)
    voice = models.BooleanField(_("mensagem de voz"), default=False)
    status = models.CharField(
        _("situação"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(_("motivo"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    file = models.ForeignKey(
        MediaFile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attachments",
    )
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)

    class Meta:
        verbose_name = _("anexo")
        verbose_name_plural = _("anexos")
        indexes = [
            models.Index(
                fields=["status", "created_at"],
                condition=Q(status="pending"),
                name="attachment_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.message_id} ({self.status})"
