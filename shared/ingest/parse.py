"""Turn a stored file into text sections (documents) or FAQ entries (FAQ files).

Supported: PDF (text per page), HTML (main text; no scripts, styles or navigation),
Markdown, plain text (encoding detected), and FAQ files (``.csv``/``.jsonl``). A corrupt,
encrypted, empty or unsupported file raises :class:`ParseError` with a readable reason.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePosixPath

from shared.errors import ValidationError
from shared.faq_import import FaqEntry, parse_faq_file
from shared.rag.chunk import Chunk, chunk_sections, markdown_sections


class ParseError(Exception):
    """The file cannot become knowledge; the message says why, for the owner."""


# What one document may become (a PDF that expands to gigabytes, or has 50,000 pages, is
# refused with the reason instead of filling the index or the process's memory).
MAX_PAGES = 2_000
MAX_TEXT_CHARS = 5_000_000
MAX_CHUNKS = 5_000


@dataclass
class Parsed:
    title: str
    mime: str
    chunks: list[Chunk] = field(default_factory=list)
    faqs: list[FaqEntry] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "faq_file" if self.faqs else "document"


MIME = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".jsonl": "application/jsonl",
}


def parse(key: str, data: bytes) -> Parsed:
    suffix = PurePosixPath(key).suffix.lower()
    stem = PurePosixPath(key).stem.replace("-", " ").replace("_", " ").strip() or key
    if suffix not in MIME:
        raise ParseError(
            f"unsupported file type {suffix or '(none)'}; "
            "use PDF, HTML, Markdown, text, CSV or JSONL"
        )
    if not data.strip():
        raise ParseError("the file is empty")
    mime = MIME[suffix]
    if suffix in (".csv", ".jsonl"):
        try:
            return Parsed(stem, mime, faqs=parse_faq_file(data, mime))
        except ValidationError as exc:
            raise ParseError(f"not a valid FAQ file: {exc.message}") from None
    if suffix == ".pdf":
        return _pdf(data, stem)
    text = _within_limit(decode_text(data))
    if suffix in (".html", ".htm"):
        title, sections = _html(text)
        return _document(title or stem, mime, sections)
    sections = markdown_sections(text)
    title = next((path[0] for path, _ in sections if path), stem)
    return _document(title, mime, sections)


def _document(title: str, mime: str, sections: list[tuple[list[str], str]]) -> Parsed:
    titled = [
        (path if path and path[0] == title else [title, *path], body) for path, body in sections
    ]
    chunks = chunk_sections(titled)
    if not chunks:
        raise ParseError("the file contains no text")
    return Parsed(title, mime, chunks=_few_enough(chunks))


def _within_limit(text: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise _too_much_text()
    return text


def _too_much_text() -> ParseError:
    return ParseError(
        f"the document holds more than {MAX_TEXT_CHARS:,} characters of text; split it"
    )


def _few_enough(chunks: list[Chunk]) -> list[Chunk]:
    if len(chunks) > MAX_CHUNKS:
        raise ParseError(f"the document makes more than {MAX_CHUNKS:,} passages; split it")
    return chunks


def decode_text(data: bytes) -> str:
    """UTF-8 if it is, else the encoding charset-normalizer detects."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ParseError("the text's encoding could not be detected")
    return str(best)


def _pdf(data: bytes, stem: str) -> Parsed:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ParseError("the PDF is encrypted")
        if len(reader.pages) > MAX_PAGES:
            raise ParseError(f"the PDF has {len(reader.pages):,} pages; at most {MAX_PAGES:,}")
        pages = []
        extracted = 0
        for n, page in enumerate(reader.pages, 1):
            text = page.extract_text() or ""
            extracted += len(text)
            if extracted > MAX_TEXT_CHARS:
                raise _too_much_text()
            pages.append((n, text))
        metadata = reader.metadata
        title = str(metadata.get("/Title") or stem) if metadata is not None else stem
    except ParseError:
        raise
    except LimitReachedError:
        raise ParseError(
            "the PDF's contents expand beyond what Parley reads (a PDF bomb?)"
        ) from None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"the PDF is corrupt or unreadable ({type(exc).__name__})") from None
    chunks: list[Chunk] = []
    for number, text in pages:
        if text.strip():
            chunks.extend(chunk_sections([([title], _paragraphs(text))], page=number))
    if not chunks:
        raise ParseError("the PDF has no extractable text (a scan needs OCR first)")
    return Parsed(title, "application/pdf", chunks=_few_enough(chunks))


def _paragraphs(text: str) -> str:
    """PDF text has hard line breaks; keep blank-line paragraphs, join the rest."""
    blocks = re.split(r"\n\s*\n", text)
    return "\n\n".join(" ".join(block.split()) for block in blocks if block.strip())


class _MainText(HTMLParser):
    SKIP = {
        "script",
        "style",
        "nav",
        "header",
        "footer",
        "aside",
        "noscript",
        "template",
        "svg",
        "form",
    }
    BLOCK = {
        "p",
        "div",
        "li",
        "br",
        "tr",
        "section",
        "article",
        "main",
        "table",
        "ul",
        "ol",
        "blockquote",
        "pre",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip_depth = 0
        self.title = ""
        self.in_title = False
        self.heading: int | None = None
        self.lines: list[str] = []
        self.current: list[str] = []

    def flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.lines.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip_depth += 1
        elif tag == "title":
            self.in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self.flush()
            self.heading = int(tag[1])
        elif tag in self.BLOCK:
            self.flush()
            if tag in ("p", "div", "section", "article", "table"):
                self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "title":
            self.in_title = False
        elif re.fullmatch(r"h[1-6]", tag) and self.heading is not None:
            text = " ".join("".join(self.current).split())
            self.current = []
            if text:
                self.lines += ["", "#" * self.heading + " " + text, ""]
            self.heading = None
        elif tag in self.BLOCK:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        elif not self.skip_depth:
            self.current.append(data)


def _html(text: str) -> tuple[str, list[tuple[list[str], str]]]:
    parser = _MainText()
    parser.feed(text)
    parser.close()
    parser.flush()
    return " ".join(parser.title.split()), markdown_sections("\n".join(parser.lines))
