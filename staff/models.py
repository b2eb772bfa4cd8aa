"""The internal chat between attendants: a room per queue and direct messages, kept in the
database (staff.chat writes them and publishes them live)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned


class ChatRoom(TenantOwned):
    class Kind(models.TextChoices):
        QUEUE = "queue", _("Fila")
        DIRECT = "direct", _("Conversa direta")

    kind = models.CharField(_("tipo"), max_length=8, choices=Kind.choices)
    queue = models.OneToOneField(
        "inbox.Queue",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="chat_room",
        verbose_name=_("fila"),
    )
    # A direct room's two people, the lower user id first: one room per pair.
    user_a = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    user_b = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)

    class Meta:
        verbose_name = _("sala do chat interno")
        verbose_name_plural = _("salas do chat interno")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user_a", "user_b"],
                condition=models.Q(kind="direct"),
                name="staff_chatroom_one_direct_per_pair",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="queue", queue__isnull=False, user_a__isnull=True)
                    | models.Q(kind="direct", queue__isnull=True, user_a__isnull=False)
                ),
                name="staff_chatroom_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.QUEUE:
            return f"#{self.queue}"
        return f"{self.user_a} ↔ {self.user_b}"


class ChatMessage(TenantOwned):
    room = models.ForeignKey(
        ChatRoom, on_delete=models.CASCADE, related_name="messages", verbose_name=_("sala")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("autor"),
    )
    text = models.TextField(_("texto"))
    created_at = models.DateTimeField(_("enviada em"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("mensagem do chat interno")
        verbose_name_plural = _("mensagens do chat interno")
        indexes = [models.Index(fields=["room", "-id"], name="staff_chatmsg_room_recent")]

    def __str__(self) -> str:
        return self.text[:60]
