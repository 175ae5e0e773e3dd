"""Small real files for ingestion tests, made here rather than shipped."""

from __future__ import annotations


def text_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one page of Helvetica text per item (no external tools)."""
    objects: list[bytes] = []
    kids = []
    font_id = 3 + 2 * len(pages)
    for n, text in enumerate(pages):
        page_id, content_id = 3 + 2 * n, 4 + 2 * n
        kids.append(f"{page_id} 0 R")
        lines = "".join(
            f"({line.replace('(', '[').replace(')', ']')}) Tj 0 -16 Td "
            for line in text.split("\n")
        )
        stream = f"BT /F1 12 Tf 72 720 Td {lines}ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    header = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode(),
    ]
    all_objects = [*header, *objects, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    return _pdf_file(all_objects)


def bomb_pdf(expanded_bytes: int = 100_000_000) -> bytes:
    """A one-page PDF whose content stream is small but inflates to ``expanded_bytes``."""
    import zlib

    text = b"BT /F1 12 Tf 72 720 Td (" + b"A" * expanded_bytes + b") Tj ET"
    stream = zlib.compress(text, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    """Numbered objects (the first is the catalog) with their cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
