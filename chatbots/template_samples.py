"""The sample file of a template's media header: checked here, uploaded to Meta, its handle kept.

Meta reviews an IMAGE, VIDEO or DOCUMENT header by a sample file sent beforehand through its
Resumable Upload API; the submission names it by the handle that upload returns
(`example.header_handle`; Meta: https://developers.facebook.com/docs/graph-api/guides/upload
and https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-media/).

* `sample_problems(header_format, name=, size=, head=)`: what Meta would refuse in the file
  (pt-BR), checked before any call. The type is read from the file's first bytes, not from
  its name or the browser's word: the upload API takes PDF, JPEG, PNG and MP4 only, and a
  header takes images up to 5 MB, MP4 videos up to 16 MB and PDFs up to 100 MB (Meta's
  supported media: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types).
* `template_sample_upload(template=, file=, name=)`: checks, uploads with the bot's token and
  sets the handle on the template's header (`header_example`, what
  chatbots.message_templates.submit_body sends). The row is not saved here: the admin saves
  it with the rest of the form, so a refusal (ours or Meta's) changes nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _

from chatbots.models import MessageTemplate
from chatbots.providers import meta_templates
from chatbots.providers.base import ProviderError

logger = logging.getLogger(__name__)

HeaderFormat = MessageTemplate.HeaderFormat
MB = 1024 * 1024
HEAD_BYTES = 16  # enough for every signature below
# MP4's major brands (ISO/IEC 14496-12 and -14 file type box); a QuickTime, 3GP or HEIC file
# has the same box with another brand, and Meta's upload takes MP4 only.
MP4_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso4",
        b"iso5",
        b"iso6",
        b"mp41",
        b"mp42",
        b"avc1",
        b"M4V ",
        b"dash",
        b"mmp4",
    }
)


@dataclass(frozen=True)
class SampleKind:
    label: str  # what the business user reads
    types: tuple[str, ...]  # MIME types Meta takes for this header
    max_bytes: int


SAMPLE_KINDS = {
    HeaderFormat.IMAGE: SampleKind("JPG ou PNG", ("image/jpeg", "image/png"), 5 * MB),
    HeaderFormat.VIDEO: SampleKind("MP4", ("video/mp4",), 16 * MB),
    HeaderFormat.DOCUMENT: SampleKind("PDF", ("application/pdf",), 100 * MB),
}


class SampleRefused(ValueError):
    """The file cannot be a sample for this header, or Meta refused it; `problems` in pt-BR."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def sniff_type(head: bytes) -> str:
    """The MIME type the file's first bytes show, among those Meta's upload takes, or ""."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        return "video/mp4"
    return ""


def _size_label(size: int) -> str:
    return f"{size / MB:.1f}".replace(".", ",") + " MB"


def sample_problems(header_format: str, *, name: str, size: int, head: bytes) -> list[str]:
    """What Meta would refuse in this sample for a `header_format` header (pt-BR)."""
    kind = SAMPLE_KINDS.get(header_format)
    if kind is None:
        return [
            _(
                "O arquivo de exemplo é só para cabeçalho de imagem, vídeo ou PDF: escolha o "
                "tipo do cabeçalho antes."
            )
        ]
    problems = []
    found = sniff_type(head)
    if found not in kind.types:
        problems.append(
            _("“%(name)s” não é %(kind)s: um cabeçalho de %(header)s aceita só %(kind)s.")
            % {
                "name": name,
                "kind": kind.label,
                "header": str(HeaderFormat(header_format).label).lower(),
            }
        )
    if size <= 0:
        problems.append(_("“%(name)s” está vazio.") % {"name": name})
    elif size > kind.max_bytes:
        problems.append(
            _("“%(name)s” tem %(size)s; o limite da Meta para este cabeçalho é %(max)s.")
            % {"name": name, "size": _size_label(size), "max": _size_label(kind.max_bytes)}
        )
    return problems


def _head(file: IO[bytes]) -> bytes:
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    return head


def template_sample_upload(*, template: MessageTemplate, file: IO[bytes], name: str) -> str:
    """Check `file` against Meta's limits for the template's header, upload it with the
    bot's token, and set the handle on the template (not saved: the caller saves).

    SampleRefused (pt-BR problems) when the file does not fit, before any call, or when
    Meta refuses it or cannot be reached; the template is then left as it was.
    """
    file.seek(0, os.SEEK_END)
    size = file.tell()
    head = _head(file)
    name = os.path.basename(name or "arquivo")[:200] or "arquivo"
    if problems := sample_problems(template.header_format, name=name, size=size, head=head):
        raise SampleRefused(problems)
    try:
        handle = meta_templates.sample_upload(
            template.chatbot, file_name=name, file_type=sniff_type(head), content=file, length=size
        )
    except ProviderError as exc:
        logger.warning(
            "template sample upload failed",
            extra={"template_id": template.pk, "chatbot_id": template.chatbot_id, "code": exc.code},
        )
        if exc.code == "not_configured":
            raise SampleRefused([exc.detail]) from exc
        if exc.retryable:
            raise SampleRefused(
                [
                    _(
                        "A Meta não respondeu ao envio do arquivo de exemplo (%(code)s). Nada "
                        "foi alterado no modelo: envie de novo em alguns instantes."
                    )
                    % {"code": exc.code}
                ]
            ) from exc
        raise SampleRefused(
            [
                _(
                    "A Meta não aceitou o arquivo de exemplo (%(code)s: %(detail)s). Nada foi "
                    "alterado no modelo: confira o arquivo e o token do chatbot e envie de novo."
                )
                % {"code": exc.code, "detail": exc.detail or _("sem detalhes")}
            ]
        ) from exc
    template.header_example = handle
    logger.info(
        "template sample uploaded",
        extra={"template_id": template.pk, "chatbot_id": template.chatbot_id, "bytes": size},
    )
    return handle
