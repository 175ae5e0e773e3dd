"""Each function runs on Lambda through Mangum, behind API Gateway's HTTP API events."""

from __future__ import annotations

import base64
import importlib
import json
import os
from typing import Any
from urllib.parse import quote_plus

import pytest

from tests.chat_fixtures import ORIGIN, make_shop


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


# ----- the handlers against real PostgreSQL and moto's S3, as Lambda invokes them --------


@pytest.fixture
def lambda_runtime(monkeypatch, db_url, s3_bucket, moto_url, tmp_path):
    """The process-wide runtime a Lambda container builds from its environment."""
    import shared.runtime
    from shared.http.app import lambda_loop

    bucket, _ = s3_bucket
    env = {
        "DATABASE_URL": db_url,
        "PARLEY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "PARLEY_DATA_DIR": str(tmp_path / "data"),  # Lambda's /tmp
        "PARLEY_S3_BUCKET": bucket,
        "PARLEY_S3_ENDPOINT_URL": moto_url,
        "PARLEY_S3_REGION": "us-east-1",
        "PARLEY_DEMO": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(shared.runtime, "_default", None)
    runtime = shared.runtime.default_runtime()
    shop = lambda_loop().run_until_complete(make_shop(runtime))
    yield runtime, shop
    lambda_loop().run_until_complete(runtime.aclose())


def api_event(path: str, *, method: str = "POST", body=None, headers=None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) request, as AWS documents it."""
    event: dict[str, Any] = http_event(path, method)
    event["headers"] = {"content-type": "application/json", **(headers or {})}
    event["requestContext"]["http"]["method"] = method
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def s3_event(bucket: str, key: str, name: str) -> dict[str, Any]:
    """An S3 trigger's event, as AWS documents it (eventVersion 2.1, the key URL-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-central-1",
                "eventTime": "2026-12-02T10:00:00.000Z",
                "eventName": name,
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.10"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "parley-ingest",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": 120,
                        "eTag": "0123456789abcdef0123456789abcdef",
                        "sequencer": "0A1B2C3D4E5F678901",
                    },
                },
            }
        ]
    }


def chat(shop, message: str, accept: str = "application/json") -> dict[str, Any]:
    from functions.chat.app import handler

    headers = {"authorization": f"Bearer {shop.publishable_key}", "origin": ORIGIN}
    event = api_event("/v1/chat", body={"message": message}, headers={**headers, "accept": accept})
    return handler(event, None)


def test_chat_over_lambda_answers_in_json_and_in_one_buffered_sse_body(lambda_runtime):
    """No WebSocket through Mangum: the widget posts to /v1/chat (data-transport="http")."""
    _, shop = lambda_runtime
    answered = chat(shop, "what does delivery cost?")
    assert answered["statusCode"] == 200, answered["body"]
    assert json.loads(answered["body"])["source"] == "faq"
    streamed = chat(shop, "what does delivery cost?", accept="text/event-stream")
    assert streamed["statusCode"] == 200
    assert streamed["headers"]["content-type"].startswith("text/event-stream")
    blocks = streamed["body"].strip().split("\n\n")
    assert blocks[0].startswith("event: token")
    assert blocks[-1].startswith("event: done")


def test_s3_put_and_delete_triggers_ingest_and_remove_a_document(lambda_runtime, s3_bucket):
    from functions.ingest.app import handler

    _, shop = lambda_runtime
    bucket, s3 = s3_bucket
    key = "demo/fernwood/Repair service.md"
    body = "# Repairs\n\nA seam repair in our Leipzig workshop costs 25 euros.\n"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    put = handler(s3_event(bucket, key, "ObjectCreated:Put"), None)
    assert put["results"][0]["key"] == key
    assert put["results"][0]["action"] == "ingested"
    assert "25 euros" in json.loads(chat(shop, "What does a seam repair cost?")["body"])["answer"]
    s3.delete_object(Bucket=bucket, Key=key)
    removed = handler(s3_event(bucket, key, "ObjectRemoved:Delete"), None)
    assert removed["results"][0]["action"] == "removed"
    after = json.loads(chat(shop, "What does a seam repair cost?")["body"])
    assert "25 euros" not in after["answer"]


def test_schedules_run_their_job_on_the_function_that_owns_it(lambda_runtime):
    from functions.admin.app import handler as admin
    from functions.chat.app import handler as chat_handler
    from functions.gdpr.app import handler as gdpr
    from functions.ingest.app import handler as ingest
    from shared.scheduler import UnknownJobError

    assert ingest({"parley_job": "archive"}, None)["result"]["conversations"] == 0
    assert ingest({"parley_job": "poll"}, None)["job"] == "poll"
    assert set(gdpr({"parley_job": "gdpr"}, None)["result"]) == {"finished", "exports_deleted"}
    assert set(admin({"parley_job": "purge"}, None)["result"]) == {"rate_limit_rows", "sessions"}
    with pytest.raises(UnknownJobError):
        chat_handler({"parley_job": "archive"}, None)


def test_secrets_come_from_the_parameter_store_and_the_environment_wins(moto_url, monkeypatch):
    """Lambda reads SecureString parameters under PARLEY_SSM_PREFIX (moto's SSM here)."""
    import boto3

    from shared.config import ConfigError, load_settings

    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    ssm = boto3.client("ssm", endpoint_url=moto_url, region_name="eu-central-1")
    key = base64.b64encode(os.urandom(32)).decode()
    prefix = f"/parley/{os.urandom(3).hex()}"
    for name, value in (("PARLEY_MASTER_KEY", key), ("PARLEY_INGEST_SECRET", "from-the-store")):
        ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type="SecureString")
    settings = load_settings(
        {"PARLEY_SSM_PREFIX": prefix, "PARLEY_INGEST_SECRET": "from-the-env"}, env_file=None
    )
    assert settings.master_key_bytes() == base64.b64decode(key)
    assert settings.ingest_secret is not None
    assert settings.ingest_secret.get_secret_value() == "from-the-env"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9")  # nothing listens
    with pytest.raises(ConfigError, match="PARLEY_SSM_PREFIX: cannot read"):
        load_settings({"PARLEY_SSM_PREFIX": prefix}, env_file=None)
