"""Admin: the stored files and each message's attachment, with a preview through the same
signed link as the staff app (never a public URL)."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.admin_tenancy import TenantScopedAdmin
from media.models import Attachment, MediaFile
from media.services import media_link


def _preview(media_file: MediaFile | None) -> str:
    if media_file is None:
        return "—"
    url = media_link(media_file)
    kind = media_file.content_type.split("/")[0]
    if kind == "image":
        return format_html('<a href="{}"><img src="{}" style="max-height:80px"></a>', url, url)
    if kind == "audio":
        return format_html('<audio controls preload="none" src="{}"></audio>', url)
    if kind == "video":
        return format_html('<video controls preload="none" width="200" src="{}"></video>', url)
    return format_html('<a href="{}">{}</a>', url, _("Baixar"))


@admin.register(MediaFile)
class MediaFileAdmin(TenantScopedAdmin):
    list_display = ("content_type", "human_size", "preview", "created_at")
    list_filter = ("content_type",)
    readonly_fields = ("sha256", "content_type", "size", "file", "preview", "created_at")
    exclude = ("tenant",)

    @admin.display(description=_("tamanho"))
    def human_size(self, obj: MediaFile) -> str:
        return filesizeformat(obj.size)

    @admin.display(description=_("arquivo"))
    def preview(self, obj: MediaFile) -> str:
        return _preview(obj)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Attachment)
class AttachmentAdmin(TenantScopedAdmin):
    list_display = ("message", "kind", "filename", "status", "reason", "preview", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("file", "message")
    readonly_fields = (
        "message",
        "kind",
        "provider_media_id",
        "url",
        "filename",
        "voice",
        "status",
        "reason",
        "attempts",
        "file",
        "preview",
        "created_at",
    )
    exclude = ("tenant",)

    @admin.display(description=_("arquivo"))
    def preview(self, obj: Attachment) -> str:
        return _preview(obj.file)

    def has_add_permission(self, request) -> bool:
        return False
