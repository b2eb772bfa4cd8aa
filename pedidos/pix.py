"""Pix "copia e cola": a static BR Code for an exact amount, and its QR code image.

The payload follows Banco Central's "Manual de Padrões para Iniciação do Pix" (EMV QRCPS
Merchant-Presented Mode, https://www.bcb.gov.br/content/estabilidadefinanceira/pix/Regulamento_Pix/II_ManualdePadroesparaIniciacaodoPix-versao1.pdf):
each field is ID (2 digits) + length (2 digits) + value, in this order:

    00 payload format indicator "01"
    26 merchant account information: 00 GUI "br.gov.bcb.pix", 01 the Pix key
    52 merchant category code "0000" · 53 currency "986" (BRL) · 54 amount ("12.50")
    58 country "BR" · 59 merchant name (≤ 25) · 60 merchant city (≤ 15)
    62 additional data: 05 txid (≤ 25 letters and digits, "***" for none)
    63 CRC16-CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) of everything before it,
       "6304" included, as 4 upper-case hex digits

A static code carries no payer and is not tied to a charge at a bank (that would be a
dynamic code, through a PSP's API): the business checks the payment in its bank app, by the
txid (the order number) and the amount.
"""

from __future__ import annotations

import io
import ipaddress
import re
import unicodedata
from decimal import Decimal
from urllib.parse import urlsplit

import segno
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _

GUI = "br.gov.bcb.pix"
NAME_MAX = 25
CITY_MAX = 15
TXID_MAX = 25
KEY_MAX = 77  # an e-mail key; the others are shorter (BCB's DICT)
_EVP = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- The key -----------------------------------------------------------------------------


def _cpf_ok(digits: str) -> bool:
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for size in (9, 10):
        total = sum(int(d) * w for d, w in zip(digits[:size], range(size + 1, 1, -1), strict=True))
        if (total * 10) % 11 % 10 != int(digits[size]):
            return False
    return True


def _cnpj_ok(digits: str) -> bool:
    if len(digits) != 14 or len(set(digits)) == 1:
        return False
    for size in (12, 13):
        weights = list(range(size - 7, 1, -1)) + list(range(9, 1, -1))
        total = sum(int(d) * w for d, w in zip(digits[:size], weights, strict=True))
        check = 11 - total % 11
        if (0 if check >= 10 else check) != int(digits[size]):
            return False
    return True


def key_clean(key: str) -> str:
    """The key as the DICT stores it (e-mail in lower case, phone as +55..., CPF/CNPJ as
    digits, random key in lower case), or ValidationError saying which forms are accepted."""
    raw = (key or "").strip()
    digits = re.sub(r"\D", "", raw)
    if _EMAIL.match(raw) and len(raw) <= KEY_MAX:
        return raw.lower()
    if _EVP.match(raw.lower()):
        return raw.lower()
    if raw.startswith("+") or raw.startswith("("):
        phone = digits if raw.startswith("+") else "55" + digits
        if phone.startswith("55") and len(phone) in (12, 13):
            return "+" + phone
    elif re.fullmatch(r"[\d.\-/ ]+", raw):
        if len(digits) == 11 and _cpf_ok(digits):
            return digits
        if len(digits) == 14 and _cnpj_ok(digits):
            return digits
    raise ValidationError(
        _(
            "Chave Pix inválida. Use um CPF ou CNPJ (com dígitos verificadores certos), um "
            "e-mail, um celular com +55 e DDD (ex.: +5511987654321) ou a chave aleatória."
        ),
        code="chave_pix_invalida",
    )


# --- The payload -------------------------------------------------------------------------


def _ascii(text: str, limit: int) -> str:
    """Letters without accents and printable ASCII only, cut to `limit` (what every bank
    app reads the same way)."""
    bare = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in bare if 32 <= ord(c) < 127)
    return re.sub(r"\s+", " ", bare).strip()[:limit].strip()


def _field(field_id: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"BR Code field {field_id} is {len(value)} characters; at most 99")
    return f"{field_id}{len(value):02d}{value}"


def crc16(data: str) -> str:
    """CRC16-CCITT-FALSE of `data` (UTF-8) as 4 upper-case hex digits ("123456789" -> 29B1)."""
    crc = 0xFFFF
    for byte in data.encode("utf-8"):
        crc ^= byte << 8
        for _bit in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def txid_for(numero: int | None) -> str:
    """The order's reference in the Pix: "PEDIDO123" (letters and digits only)."""
    return f"PEDIDO{numero}"[:TXID_MAX] if numero else "***"


def brcode(
    *, key: str, name: str, city: str, amount: Decimal | None = None, txid: str = "***"
) -> str:
    """The "copia e cola" text of a static Pix for `amount` (None: the payer types it)."""
    account = _field("00", GUI) + _field("01", key)
    if txid != "***":
        txid = re.sub(r"[^A-Za-z0-9]", "", txid)[:TXID_MAX] or "***"
    payload = (
        _field("00", "01")
        + _field("26", account)
        + _field("52", "0000")
        + _field("53", "986")
        + (_field("54", f"{Decimal(amount):.2f}") if amount else "")
        + _field("58", "BR")
        + _field("59", _ascii(name, NAME_MAX) or "RECEBEDOR")
        + _field("60", _ascii(city, CITY_MAX) or "BRASIL")
        + _field("62", _field("05", txid))
        + "6304"
    )
    return payload + crc16(payload)


# --- The QR code image ---------------------------------------------------------------------

# The image link WhatsApp fetches: signed, so an order's number cannot be guessed into one.
IMAGE_SALT = "pedidos.pix.image"
IMAGE_MAX_AGE = 7 * 24 * 3600  # a week: longer than anyone takes to pay a delivery


def image_token(pedido_id: int) -> str:
    return signing.TimestampSigner(salt=IMAGE_SALT).sign(str(pedido_id))


def image_pedido_id(token: str) -> int | None:
    """The order of a token from image_token, or None (forged, or older than a week)."""
    try:
        return int(signing.TimestampSigner(salt=IMAGE_SALT).unsign(token, max_age=IMAGE_MAX_AGE))
    except (signing.BadSignature, ValueError):
        return None


def public_base_url() -> str:
    """SITE_URL when the internet can reach it, else "" (WhatsApp fetches media links
    itself, so a loopback or private address would only make the send fail)."""
    base = (settings.SITE_URL or "").rstrip("/")
    host = (urlsplit(base).hostname or "").lower()
    if not host or host == "localhost" or host.endswith(".local"):
        return ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return base  # a name: assume the DNS the operator set up
    return "" if (address.is_private or address.is_loopback or address.is_link_local) else base


def image_url(*, pedido_id: int) -> str:
    """The public link of the order's Pix QR code (pedidos.api.pix), or "" without a public
    SITE_URL: then the customer gets the copy-and-paste code only."""
    base = public_base_url()
    if not base:
        return ""
    return base + reverse("pedido-pix-qr", kwargs={"token": image_token(pedido_id)})


def qr_png(payload: str) -> bytes:
    """The QR code of `payload` as a PNG (segno, pure Python: no image library needed)."""
    out = io.BytesIO()
    # Error correction level M (15% of the code may be unreadable: a glare on a screen) and
    # the 4-module quiet zone QR codes require around them.
    segno.make(payload, error="m", micro=False).save(out, kind="png", scale=8, border=4)
    return out.getvalue()
