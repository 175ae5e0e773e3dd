"""Structure-aware chunking: sections by heading, paragraphs packed to a target size.

Each chunk keeps its heading path ("Returns policy › Refunds") and page, so answers can
cite where they come from. Sizes are counted in words (a close, model-free stand-in for
tokens: English prose runs ~1.3 tokens a word).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TARGET_WORDS = 180
OVERLAP_WORDS = 30
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str
    page: int | None = None

    @property
    def token_estimate(self) -> int:
        return int(len(self.text.split()) * 1.3) + 1


def markdown_sections(text: str) -> list[tuple[list[str], str]]:
    """(heading path, body) for each section of a Markdown document."""
    path: list[str] = []
    sections: list[tuple[list[str], str]] = []
    body: list[str] = []
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            if "".join(body).strip():
                sections.append((list(path), "\n".join(body).strip()))
            body = []
            level = len(match[1])
            path = [*path[: level - 1], match[2].strip()]
        else:
            body.append(line)
    if "".join(body).strip():
        sections.append((list(path), "\n".join(body).strip()))
    return sections


def chunk_sections(
    sections: list[tuple[list[str], str]],
    *,
    page: int | None = None,
    target: int = TARGET_WORDS,
    overlap: int = OVERLAP_WORDS,
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for path, body in sections:
        heading = " › ".join(p for p in path if p)
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
        current: list[str] = []
        for paragraph in paragraphs:
            words = paragraph.split()
            if current and len(current) + len(words) > target:
                chunks.append(Chunk(" ".join(current), heading, page))
                current = current[-overlap:] if overlap else []
            while len(words) > target:  # a paragraph longer than a chunk: split it
                piece, words = words[:target], words[target - overlap :]
                chunks.append(Chunk(" ".join([*current, *piece]), heading, page))
                current = []
            current.extend(words)
        if current:
            chunks.append(Chunk(" ".join(current), heading, page))
    return chunks


def chunk_markdown(text: str, *, title: str = "") -> list[Chunk]:
    """Chunks of a Markdown (or plain text) document."""
    sections = markdown_sections(text)
    if title:
        sections = [
            (path if path and path[0] == title else [title, *path], body) for path, body in sections
        ]
    return chunk_sections(sections)
