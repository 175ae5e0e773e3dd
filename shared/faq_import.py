"""FAQ files (JSONL or CSV) -> validated entries; every bad line is reported by number.

JSONL: one ``{"question", "answer", "alternatives": [...]}`` object a line.
CSV: a header with ``question`` and ``answer`` (and optionally ``alternatives``, several
phrasings separated by ``|``). Used by the admin import route and by ingestion.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shared.errors import ValidationError

MAX_ENTRIES = 10_000
MAX_REPORTED = 50
MAX_ALTERNATIVES = 50  # a FAQ's other phrasings, here and in the admin API


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    question: Annotated[str, Field(min_length=1, max_length=1000)]
    answer: Annotated[str, Field(min_length=1, max_length=10_000)]
    alternatives: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=1000)]],
        Field(max_length=MAX_ALTERNATIVES),
    ] = []


def parse_faq_file(raw: bytes, content_type: str = "") -> list[FaqEntry]:
    """Parse and validate the whole file; raise one 422 listing every bad line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text.", code="invalid_file") from None
    if not text.strip():
        raise ValidationError("The file contains no FAQs.", code="invalid_file")
    is_csv = "csv" in content_type or (
        "json" not in content_type and not text.lstrip().startswith("{")
    )
    rows = _csv_rows(text) if is_csv else _jsonl_rows(text)
    entries: list[FaqEntry] = []
    problems: list[dict[str, Any]] = []
    for line, data in rows:
        if isinstance(data, str):
            problems.append({"line": line, "message": data})
            continue
        try:
            entries.append(FaqEntry.model_validate(data))
        except PydanticValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(p) for p in err["loc"]) or "line"
            problems.append({"line": line, "message": f"{field}: {err['msg']}"})
    if problems:
        first = problems[0]
        raise ValidationError(
            f"{len(problems)} bad line(s); nothing was imported. "
            f"Line {first['line']}: {first['message']}",
            code="invalid_file",
            details={"lines": problems[:MAX_REPORTED]},
        )
    if not entries:
        raise ValidationError("The file contains no FAQs.", code="invalid_file")
    if len(entries) > MAX_ENTRIES:
        raise ValidationError(f"At most {MAX_ENTRIES} FAQs per file.", code="invalid_file")
    return entries


def _jsonl_rows(text: str) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            rows.append((number, "not valid JSON"))
            continue
        rows.append((number, data if isinstance(data, dict) else "not a JSON object"))
    return rows


def _csv_rows(text: str) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {name.strip().lower() for name in reader.fieldnames or []}
    if not {"question", "answer"} <= fields:
        return [(1, "the header must name the columns question and answer")]
    rows: list[tuple[int, Any]] = []
    for record in reader:
        data = {(k or "").strip().lower(): (v or "") for k, v in record.items()}
        alternatives = data.get("alternatives", "")
        data["alternatives"] = [a for a in alternatives.split("|") if a.strip()]
        rows.append((reader.line_num, data))
    return rows
