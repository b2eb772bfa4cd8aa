"""A QR code PNG (as Evolution returns it) drawn as text, with the standard library only.

Evolution's `GET /instance/connect/{instance}` gives the QR code as a base64 PNG and as
the raw `code` string. Encoding `code` into a QR code would need a QR library; reading the
PNG does not: it is decoded here (zlib and the five PNG row filters), the module grid is
found from the top-left finder pattern (7 modules wide), and each pair of module rows is
drawn as one line of half-block characters.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG color type -> samples per pixel
FINDER_MODULES = 7


class QRImageError(ValueError):
    """The image is not a PNG we can read, or shows no QR code."""


def decode_data_url(value: str) -> bytes:
    """The bytes of "data:image/png;base64,..." (or of bare base64)."""
    if "," in value and value.strip().startswith("data:"):
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise QRImageError("not base64") from None


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def png_dark_pixels(data: bytes) -> list[list[bool]]:
    """Each pixel of a non-interlaced PNG as dark (True) or light; transparent is light."""
    if not data.startswith(PNG_SIGNATURE):
        raise QRImageError("not a PNG")
    pos, idat, palette = len(PNG_SIGNATURE), bytearray(), b""
    width = height = depth = color = 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _comp, _filter, interlace = struct.unpack(
                ">IIBBBBB", chunk
            )
            if interlace or color not in CHANNELS or depth not in (1, 2, 4, 8, 16):
                raise QRImageError("unsupported PNG layout")
        elif kind == b"PLTE":
            palette = chunk
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    if not width or not height:
        raise QRImageError("PNG without a header")
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error:
        raise QRImageError("corrupt PNG data") from None
    bits = CHANNELS[color] * depth
    stride = (width * bits + 7) // 8
    step = max(1, bits // 8)  # bytes per pixel for the filters
    rows: list[list[bool]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        if start + stride + 1 > len(raw):
            raise QRImageError("truncated PNG data")
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            upleft = previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, upleft)) & 0xFF
            elif kind != 0:
                raise QRImageError(f"unknown PNG filter {kind}")
        previous = line
        rows.append([_dark(line, x, color, depth, palette) for x in range(width)])
    return rows


def _sample(line: bytearray, index: int, depth: int) -> int:
    """Sample number `index` of a row, scaled to 0..255."""
    if depth == 8:
        return line[index]
    if depth == 16:
        return line[index * 2]
    bit = index * depth
    value = (line[bit // 8] >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
    return value * 255 // ((1 << depth) - 1)


def _dark(line: bytearray, x: int, color: int, depth: int, palette: bytes) -> bool:
    n = CHANNELS[color]
    samples = [_sample(line, x * n + i, depth) for i in range(n)]
    if color == 3:  # palette index (the raw index, not scaled)
        index = samples[0] * ((1 << depth) - 1) // 255
        rgb = palette[index * 3 : index * 3 + 3] or b"\xff\xff\xff"
        return sum(rgb) / 3 < 128
    alpha = samples[-1] if color in (4, 6) else 255
    gray = samples[0] if color in (0, 4) else sum(samples[:3]) / 3
    return alpha >= 128 and gray < 128


def qr_modules(pixels: list[list[bool]]) -> list[list[bool]]:
    """The QR code's module grid (True = dark), read from its pixels."""
    dark_rows = [y for y, row in enumerate(pixels) if any(row)]
    if not dark_rows:
        raise QRImageError("no QR code in the image")
    top, bottom = dark_rows[0], dark_rows[-1]
    left = min(row.index(True) for row in pixels if any(row))
    right = max(len(row) - 1 - row[::-1].index(True) for row in pixels if any(row))
    run = 0
    while left + run <= right and pixels[top][left + run]:
        run += 1
    module = run / FINDER_MODULES  # the top-left finder pattern is 7 modules wide
    if module < 1:
        raise QRImageError("no finder pattern at the top left")
    size = round((right - left + 1) / module)
    if size < 21 or round((bottom - top + 1) / module) != size:
        raise QRImageError("the dark area is not a square QR code")
    return [
        [pixels[top + int((r + 0.5) * module)][left + int((c + 0.5) * module)] for c in range(size)]
        for r in range(size)
    ]


def render(modules: list[list[bool]], *, quiet: int = 2, invert: bool = False) -> str:
    """The grid as text: two module rows per line in half blocks (▀ ▄ █), with a quiet
    zone. By default light modules are drawn (a dark terminal's background is the dark
    ones); `invert` draws the dark modules, for light terminals."""
    size = len(modules)
    light = [[False] * (size + 2 * quiet) for _ in range(quiet)]
    grid = light + [[False] * quiet + list(row) + [False] * quiet for row in modules] + light
    grid = [[cell == invert for cell in row] for row in grid]  # True = draw a block
    if len(grid) % 2:
        grid.append([not invert] * len(grid[0]))
    glyphs = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
    lines = []
    for y in range(0, len(grid), 2):
        lines.append("".join(glyphs[(a, b)] for a, b in zip(grid[y], grid[y + 1], strict=True)))
    return "\n".join(lines)


def qr_text_from_png(data: bytes, *, invert: bool = False) -> str:
    """A QR code PNG drawn as text; QRImageError when it cannot be read."""
    return render(qr_modules(png_dark_pixels(data)), invert=invert)
