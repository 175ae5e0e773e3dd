"""The OpenAPI 3.1 document, generated from the same endpoint list that builds the routes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.http.endpoints import AnyEndpoint, Endpoint, WebSocketEndpoint

_REF = "#/components/schemas/{model}"


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


_ERROR_STATUSES = {
    "400": "Malformed request",
    "401": "Missing or invalid credentials",
    "403": "Not allowed",
    "404": "Not found",
    "413": "Body too large",
    "409": "Conflicts with what exists (a taken slug or username)",
    "422": "Validation error",
    "429": "Rate limited (see Retry-After)",
    "503": "A dependency is unavailable",
}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    """Every ``{name}`` of a route: the ids Parley issues, all UUIDs."""
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
        for name in re.findall(r"\{(\w+)\}", path)
    ]


def openapi_document(
    endpoints: Sequence[AnyEndpoint], *, title: str = "Parley", version: str = "1"
) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ErrorResponse, "serialization")
    ]
    for ep in endpoints:
        if isinstance(ep, Endpoint):
            if ep.body is not None:
                models.append((ep.body, "validation"))
            if ep.response is not None:
                models.append((ep.response, "serialization"))
    refs, defs = models_json_schema(models, ref_template=_REF)

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        if isinstance(ep, WebSocketEndpoint):
            paths.setdefault(ep.path, {})["get"] = {
                "summary": ep.summary,
                "description": "WebSocket endpoint (upgrade).",
                "tags": [ep.tag],
                "responses": {
                    "101": {"description": "Switching protocols"},
                    "404": {"description": "Not a WebSocket request, or no such route"},
                },
            }
            continue
        op: dict[str, Any] = {
            "summary": ep.summary,
            "operationId": f"{ep.method.lower()}_{ep.path.strip('/').replace('/', '_')}",
            "tags": [ep.tag],
            "responses": {},
        }
        parameters = _path_parameters(ep.path)
        if parameters:
            op["parameters"] = parameters
        if ep.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
            }
        ok: dict[str, Any] = {"description": "Success"}
        if ep.response is not None:
            ok["content"] = {"application/json": {"schema": refs[(ep.response, "serialization")]}}
        op["responses"][str(ep.status_code)] = ok
        error_schema = refs[(ErrorResponse, "serialization")]
        for status, text in _ERROR_STATUSES.items():
            op["responses"][status] = {
                "description": text,
                "content": {"application/json": {"schema": error_schema}},
            }
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {})},
    }
