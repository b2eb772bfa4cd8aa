"""A product's photo sent from the owner's phone or computer (staff.catalog_views).

The bot shows a product's photo by link (Produto.imagem_url: WhatsApp downloads it when the
menu goes out), so an uploaded photo is kept in Django's storage, the one media files use
(local files or S3-compatible in production), under the tenant's own folder, and served
at a public address signed with SECRET_KEY: nobody can list or guess another tenant's
photos, and WhatsApp needs no login to fetch it.

What the bytes are is read from the bytes (`filetype`, as media.services does for what
customers send), never from the name or the browser's type: WhatsApp takes JPEG and PNG
images up to 5 MB (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types).
"""

from __future__ import annotations

import hashlib

import filetype
from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from billing.models import Tenant

MAX_BYTES = 5 * 1024 * 1024
TYPES = {"image/jpeg": "jpg", "image/png": "png"}
SALT = "staff.catalog-photo"


class PhotoInput(forms.FileInput):
    """The file box as a button in Portuguese: a browser labels its own one in the language
    of its installation ("Choose File"), not the page's."""

    def render(self, name, value, attrs=None, renderer=None):
        attrs = {**(attrs or {}), "class": "file-hidden"}
        attrs["onchange"] = (
            "this.closest('label').nextElementSibling.textContent = "
            "this.files.length ? this.files[0].name : ''"
        )
        box = super().render(name, value, attrs, renderer)
        return format_html(
            '<label class="button file-pick">{}{}</label> <span class="file-name">{}</span>',
            _("Escolher foto"),
            box,
            _("nenhuma foto escolhida"),
        )


class PhotoField(forms.FileField):
    """An image file, checked from its bytes; cleans to (bytes, MIME type) or None."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _lazy("Foto do produto"))
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text", _lazy("Uma foto JPEG ou PNG de até 5 MB; o robô a envia no cardápio.")
        )
        kwargs.setdefault("widget", PhotoInput(attrs={"accept": ",".join(TYPES)}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if not upload:
            return None
        if upload.size > MAX_BYTES:
            raise ValidationError(_("A foto passa de 5 MB, o limite do WhatsApp para imagens."))
        content = upload.read()
        guess = filetype.guess(content)
        if guess is None or guess.mime not in TYPES:
            raise ValidationError(
                _("O arquivo não é uma foto JPEG ou PNG (é %(type)s).")
                % {"type": guess.mime if guess else _("de um tipo desconhecido")}
            )
        return content, guess.mime


def photo_store(photo: tuple[bytes, str], *, tenant: Tenant) -> str:
    """Keep the photo in the tenant's folder (once per content) and return its public URL."""
    content, mime = photo
    digest = hashlib.sha256(content).hexdigest()
    name = f"produtos/{tenant.pk}/{digest}.{TYPES[mime]}"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(content))
    token = signing.dumps({"t": tenant.pk, "n": name}, salt=SALT, compress=True)
    return settings.SITE_URL.rstrip("/") + reverse("staff:catalog-photo", args=[token])


def is_own_photo(url: str) -> bool:
    """Whether `url` is a photo uploaded here (our own address: no egress check needed)."""
    prefix = settings.SITE_URL.rstrip("/") + reverse("staff:catalog-photo", args=["x"])[:-2]
    return url.startswith(prefix)


def photo(request, token: str):
    """The photo a signed address names; a forged address or a removed file is a 404."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise Http404 from None
    name = str(data.get("n", ""))
    folder = f"produtos/{data.get('t')}/"
    if not name.startswith(folder) or ".." in name or not default_storage.exists(name):
        raise Http404
    ext = name.rsplit(".", 1)[-1]
    mime = next((m for m, e in TYPES.items() if e == ext), "")
    if not mime:
        raise Http404
    response = FileResponse(default_storage.open(name, "rb"), content_type=mime)
    # A product photo is shown to anyone the bot talks to: shared caches may keep it.
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
