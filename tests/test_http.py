"""The HTTP edge: JSON errors, request ids, access logs, body parsing, OpenAPI coverage."""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path

import httpx2
import pytest
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from parley.server import create_local_app
from shared.auth.access import PUBLIC
from shared.errors import NotFoundError, RateLimitedError
from shared.http.app import create_function_app
from shared.http.endpoints import Endpoint, RequestModel, read_json
from tests.utils.servers import ThreadServer


class Greeting(RequestModel):
    name: str
    times: int = 1


class Echo(BaseModel):
    text: str


async def greet(request: Request) -> Response:
    body = await read_json(request, Greeting, max_bytes=200)
    return JSONResponse({"text": f"hello {body.name}" * body.times})


async def crash(request: Request) -> Response:
    raise RuntimeError("db password is hunter2")


async def missing(request: Request) -> Response:
    raise NotFoundError("bot", "b-1")


async def limited(request: Request) -> Response:
    raise RateLimitedError(2.2)


@pytest.fixture
def app(runtime):
    return create_function_app(
        "test",
        [
            Endpoint("POST", "/greet", greet, "Greet", PUBLIC, body=Greeting, response=Echo),
            Endpoint("GET", "/crash", crash, "Crash", PUBLIC),
            Endpoint("GET", "/missing", missing, "Missing", PUBLIC),
            Endpoint("GET", "/limited", limited, "Limited", PUBLIC),
        ],
        runtime=runtime,
    )


def log_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_unknown_route_and_method_are_json(make_client, app):
    client = make_client(app)
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such route."}}
    response = await client.delete("/greet")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]


async def test_parley_errors_carry_status_code_and_headers(make_client, app):
    client = make_client(app)
    response = await client.get("/missing")
    assert (response.status_code, response.json()) == (
        404,
        {"error": {"code": "not_found", "message": "No bot b-1."}},
    )
    response = await client.get("/limited")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "rate_limited"


async def test_crash_is_a_plain_json_500_and_logged_without_its_text(make_client, app, log_stream):
    response = await make_client(app).get("/crash")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert "hunter2" not in response.text
    assert response.headers["x-request-id"]
    logs = log_stream.getvalue()
    assert "hunter2" not in logs
    error = next(line for line in log_lines(log_stream) if line["msg"] == "unhandled error")
    assert error["exc_type"] == "RuntimeError"
    assert error["request_id"] == response.headers["x-request-id"]


async def test_request_id_is_echoed_when_sane_and_replaced_otherwise(make_client, app):
    client = make_client(app)
    response = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id;" * 20})
    assert len(response.headers["x-request-id"]) == 32
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_access_log_has_one_line_per_request_without_query_or_body(
    make_client, app, log_stream
):
    client = make_client(app)
    await client.post("/greet?key=pk_live_secret", json={"name": "private words"})
    lines = [line for line in log_lines(log_stream) if line["logger"] == "parley.access"]
    assert len(lines) == 1
    line = lines[0]
    assert {k: line[k] for k in ("method", "path", "status")} == {
        "method": "POST",
        "path": "/greet",
        "status": 200,
    }
    assert isinstance(line["duration_ms"], float)
    assert line["request_id"]
    assert "pk_live_secret" not in log_stream.getvalue()
    assert "private words" not in log_stream.getvalue()


def test_sensitive_log_fields_are_redacted(log_stream):
    from shared.logging import get_logger

    get_logger("parley.test").info("x", api_key="sk_123", password="pw", tenant="t1")
    line = log_lines(log_stream)[0]
    assert line["api_key"] == line["password"] == "[redacted]"
    assert line["tenant"] == "t1"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "empty_body"),
        (b"{not json", 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b'{"name": 5}', 422, "validation_error"),
        (b'{"name": "a", "colour": "red"}', 422, "validation_error"),
        (b'{"name": "' + b"x" * 300 + b'"}', 413, "payload_too_large"),
        (b"[1, 2]", 422, "validation_error"),
    ],
)
async def test_bad_bodies_get_clear_4xx(make_client, app, body, status, code):
    response = await make_client(app).post(
        "/greet", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_validation_errors_name_the_field(make_client, app):
    response = await make_client(app).post("/greet", json={"name": "a", "times": "many"})
    error = response.json()["error"]
    assert error["message"].startswith("times: ")
    assert error["fields"][0]["field"] == "times"


async def test_openapi_documents_every_route_of_the_local_app(make_client, runtime):
    app = create_local_app(runtime)
    document = (await make_client(app).get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}

    def walk(asgi):
        inner = getattr(asgi, "app", None)
        if inner is not None and not hasattr(asgi, "router"):
            yield from walk(inner)
            return
        if hasattr(asgi, "functions"):
            for fn in asgi.functions.values():
                yield from walk(fn)
            yield from walk(asgi.site)
            return
        for route in asgi.router.routes:
            if isinstance(route, WebSocketRoute):
                yield route.path, "get"
            elif isinstance(route, Route) and route.path not in (
                "/openapi.json",
                "/",
                "/widget.js",
                "/metrics",  # internal: for the stack's scraper, not part of the public API
            ):
                for method in route.methods or ():
                    if method != "HEAD":
                        yield route.path, method.lower()

    served = set(walk(app))
    assert ("/readyz", "get") in served
    assert served <= documented, served - documented
    assert "ErrorResponse" in document["components"]["schemas"]


@pytest.mark.parametrize("name", ["chat", "ingest", "admin", "gdpr"])
async def test_each_function_app_is_ready_on_its_own(make_client, runtime, name):
    module = importlib.import_module(f"functions.{name}.app")
    client = make_client(module.create_app(runtime))
    response = await client.get("/readyz")
    assert response.json() == {"status": "ready"}
    assert (await client.get("/openapi.json")).json()["info"]["title"] == f"Parley {name}"


def test_real_server_on_loopback(runtime):
    """The local app under uvicorn on a free port, over real HTTP."""
    with ThreadServer(create_local_app(runtime)) as server:
        response = httpx2.get(server.url + "/readyz", headers={"X-Request-ID": "real-1"})
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "real-1"
        assert httpx2.get(server.url + "/v1/admin/nothing").json()["error"]["code"] == "not_found"


def test_openapi_gives_every_admin_route_its_schemas():
    from functions.admin.app import create_app

    app = create_app()
    document = app.state.openapi
    for ep in app.state.endpoints:
        op = document["paths"][ep.path][ep.method.lower()]
        if ep.body is not None:
            assert "$ref" in op["requestBody"]["content"]["application/json"]["schema"], ep.path
        assert ep.response is not None, f"{ep.method} {ep.path} declares no response model"
        ok = op["responses"][str(ep.status_code)]
        assert "$ref" in ok["content"]["application/json"]["schema"], ep.path
        assert "401" in op["responses"]
    assert {"Bot", "Faq", "ApiKeyCreated", "Analytics"} <= set(document["components"]["schemas"])


async def test_responses_say_how_long_parley_took(make_client, app):
    response = await make_client(app).get("/healthz")
    name, _, duration = response.headers["server-timing"].partition(";dur=")
    assert name == "app"
    assert 0 <= float(duration) < 10_000


def test_docs_openapi_json_is_the_api_the_code_serves():
    """The proxy serves docs/openapi.json; regenerate it with `parley openapi`."""
    from parley.server import api_document

    path = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
    assert json.loads(path.read_text()) == api_document(), (
        "docs/openapi.json is stale: python -m parley openapi > docs/openapi.json"
    )
