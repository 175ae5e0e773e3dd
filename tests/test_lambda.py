"""Each function runs on Lambda through Mangum, behind API Gateway's HTTP API events."""

from __future__ import annotations

import importlib
import json

import pytest


def http_event(path: str, method: str = "GET") -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "parley.example", "x-request-id": "lambda-1"},
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "test",
            },
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("name", ["chat", "ingest", "admin", "gdpr"])
def test_handler_serves_health_and_json_errors(name):
    module = importlib.import_module(f"functions.{name}.app")
    response = module.handler(http_event("/healthz"), None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}
    assert response["headers"]["x-request-id"] == "lambda-1"
    missing = module.handler(http_event("/v1/nothing-here"), None)
    assert missing["statusCode"] == 404
    assert json.loads(missing["body"])["error"]["code"] == "not_found"
