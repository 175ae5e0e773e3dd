"""The production stack as docker-compose.yml describes it, started on loopback without
Docker: each service's command and environment are read from the compose file, with only
the network rewritten (service names -> loopback ports). PostgreSQL is the embedded server,
moto's S3 server stands in for MinIO (the test posts MinIO's event notification to the
webhook MinIO's settings name), and Debian's Caddy runs infra/Caddyfile in front.

Everything a visitor, an admin or an attacker does here goes through the proxy only.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import httpx2
import psycopg
import pytest
import yaml

from tests.conftest import database_url
from tests.utils.servers import free_port, wait_until_responds

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("chat", "admin", "ingest", "gdpr")
ORIGIN = "https://shop.example"
DOCUMENT = (
    "# Repairs\n\nWe repair tents and backpacks in our Leipzig workshop. A seam repair costs"
    " 25 euros and takes about ten working days; send the item with the repair form.\n"
)


def expand(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR} and ${VAR:-default} interpolation."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return env.get(name) or default

    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", one, value)


@dataclass
class Stack:
    proxy: str  # the only address a client uses
    functions: dict[str, str]  # direct addresses, to show what the proxy hides
    env: dict[str, str]  # the .env file's values
    s3: Any  # a boto3 S3 client
    bucket: str
    webhook: str
    webhook_auth: str
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    scheduler: tuple[list[str], dict[str, str]] = ([], {})

    def start_scheduler(self) -> None:
        if "scheduler" not in self.procs:
            start(self, "scheduler", *self.scheduler)

    def output(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.logs.glob("*.log"))
        )

    def notify(self, key: str, event: str = "s3:ObjectCreated:Put") -> httpx2.Response:
        """What MinIO posts for a bucket event (its webhook target, as compose configures it)."""
        body = {
            "EventName": event,
            "Key": f"{self.bucket}/{key}",
            "Records": [
                {
                    "eventVersion": "2.0",
                    "eventSource": "minio:s3",
                    "eventName": event.removeprefix("s3:"),
                    "s3": {
                        "bucket": {"name": self.bucket},
                        "object": {"key": quote(key), "size": 1},
                    },
                }
            ],
        }
        return httpx2.post(
            self.webhook, json=body, headers={"Authorization": self.webhook_auth}, timeout=60
        )


def local_command(command: list[str], port: int | None) -> list[str]:
    """The container's command for this machine: our interpreter, a loopback port."""
    program, *args = command
    if program in ("parley", "uvicorn"):
        args = ["-m", program, *args]
    elif program == "python":
        pass
    else:
        raise AssertionError(f"unexpected command {command}")
    if port is not None:
        args = [
            # the container's all-interfaces address becomes loopback here
            {"0.0.0.0": "127.0.0.1", "8000": str(port), "8501": str(port)}.get(a, a)  # noqa: S104
            for a in args
        ]
    return [sys.executable, *args]


def start(stack: Stack, name: str, command: list[str], env: dict[str, str]) -> None:
    with (stack.logs / f"{name}.log").open("wb") as log:
        stack.procs[name] = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=stack.logs
        )


@pytest.fixture(scope="module")
def stack(pg_server, moto_url, tmp_path_factory) -> Iterator[Stack]:
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy is needed (scripts/test installs it)"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    logs = tmp_path_factory.mktemp("production")

    # The .env an operator writes from .env.example.
    dotenv = {
        "POSTGRES_PASSWORD": "unused-the-embedded-server-trusts-loopback",
        "MINIO_ROOT_USER": "testing",
        "MINIO_ROOT_PASSWORD": "testing",
        "PARLEY_S3_BUCKET": f"parley-{os.urandom(4).hex()}",
        "PARLEY_INGEST_SECRET": base64.b16encode(os.urandom(16)).decode(),
        "PARLEY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "PARLEY_ADMIN_USERNAME": "ops",
        "PARLEY_ADMIN_PASSWORD": "a production password",
        "PARLEY_LOG_LEVEL": "INFO",
    }
    # The compose network, on loopback: the database is a fresh one on the embedded server.
    dbname = f"parley_prod_{os.urandom(4).hex()}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    ports = {name: free_port() for name in (*FUNCTIONS, "dashboard", "proxy", "internal")}

    def service_env(name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env.pop("DATABASE_URL", None)
        env.update(dotenv)
        for key, value in (services[name].get("environment") or {}).items():
            env[key] = expand(str(value), dotenv)
        if "DATABASE_URL" in env:
            assert env["DATABASE_URL"].endswith("@db:5432/parley")
            env["DATABASE_URL"] = database_url(pg_server, dbname)
        if "PARLEY_S3_ENDPOINT_URL" in env:
            assert env["PARLEY_S3_ENDPOINT_URL"] == "http://minio:9000"
            env["PARLEY_S3_ENDPOINT_URL"] = moto_url
        if "PARLEY_TRUSTED_PROXIES" in env:
            # The stack's network is Caddy's; here Caddy dials from loopback.
            assert (
                env["PARLEY_TRUSTED_PROXIES"]
                == compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
            )
            env["PARLEY_TRUSTED_PROXIES"] = "127.0.0.1"
        env["PARLEY_DATA_DIR"] = str(logs / "data")  # the image's /data volume
        return env

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket = expand(services["minio-setup"]["environment"]["PARLEY_S3_BUCKET"], dotenv)
    s3.create_bucket(Bucket=bucket)  # what minio-setup does with `mc mb`
    minio = services["minio"]["environment"]
    endpoint = expand(minio["MINIO_NOTIFY_WEBHOOK_ENDPOINT_PARLEY"], dotenv)
    webhook = endpoint.replace("http://ingest:8000", f"http://127.0.0.1:{ports['ingest']}")
    stack = Stack(
        proxy=f"http://127.0.0.1:{ports['proxy']}",
        functions={name: f"http://127.0.0.1:{ports[name]}" for name in FUNCTIONS},
        env=dotenv,
        s3=s3,
        bucket=bucket,
        webhook=webhook,
        webhook_auth=expand(minio["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PARLEY"], dotenv),
        logs=logs,
    )
    try:
        migrate = subprocess.run(
            local_command(services["migrate"]["command"], None),
            env=service_env("migrate"),
            capture_output=True,
            timeout=180,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr.decode()
        for name in FUNCTIONS:
            start(
                stack,
                name,
                local_command(services[name]["command"], ports[name]),
                service_env(name),
            )
        # Started by the test that needs it: polling meanwhile would ingest the webhook
        # test's object first and leave the notification nothing to do.
        stack.scheduler = (
            [*local_command(services["scheduler"]["command"], None), "--every", "poll=2"],
            service_env("scheduler"),
        )
        board = services["dashboard"]["command"]
        board = [
            a.replace("http://proxy:8080", f"http://127.0.0.1:{ports['internal']}") for a in board
        ]
        start(
            stack, "dashboard", local_command(board, ports["dashboard"]), service_env("dashboard")
        )
        proxy_env = {
            **os.environ,
            **{k: expand(str(v), dotenv) for k, v in services["proxy"]["environment"].items()},
            "HOME": str(logs),
            "XDG_DATA_HOME": str(logs / "caddy-data"),
            "XDG_CONFIG_HOME": str(logs / "caddy-config"),
            "PARLEY_INTERNAL_PORT": str(ports["internal"]),
            "PARLEY_WIDGET_DIR": str(ROOT / "widget"),
            "PARLEY_OPENAPI_DIR": str(ROOT / "docs"),
            **{
                f"PARLEY_UPSTREAM_{n.upper()}": f"127.0.0.1:{ports[n]}"
                for n in (*FUNCTIONS, "dashboard")
            },
        }
        # compose's default site address (":80", plain HTTP) on a free port instead
        assert proxy_env["PARLEY_DOMAIN"] == ":80"
        proxy_env["PARLEY_DOMAIN"] = f":{ports['proxy']}"
        caddyfile = ROOT / "infra" / "Caddyfile"
        start(
            stack,
            "proxy",
            [caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            proxy_env,
        )
        for name in FUNCTIONS:
            wait_until_responds(stack.functions[name] + "/healthz", timeout=120)
        wait_until_responds(stack.proxy + "/readyz", timeout=60)
        yield stack
    except BaseException:
        print(stack.output(), file=sys.stderr)
        raise
    finally:
        for proc in stack.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in stack.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def client(stack: Stack, address: str = "127.0.0.1", **headers: str) -> httpx2.Client:
    """A client of the proxy from its own loopback address (127.0.0.x are all local)."""
    transport = httpx2.HTTPTransport(local_address=address)
    return httpx2.Client(base_url=stack.proxy, transport=transport, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def shop(stack: Stack) -> dict[str, str]:
    """The bootstrapped admin logs in through the proxy and sets up a shop."""
    with client(stack) as http:
        login = http.post(
            "/v1/admin/login",
            json={
                "username": stack.env["PARLEY_ADMIN_USERNAME"],
                "password": stack.env["PARLEY_ADMIN_PASSWORD"],
            },
        )
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"
        tenant = http.post("/v1/admin/tenants", json={"name": "Fjord Gear", "slug": "fjord"})
        assert tenant.status_code == 201, tenant.text
        bot = http.post(
            "/v1/admin/bots",
            json={
                "tenant_id": tenant.json()["id"],
                "name": "Help",
                "slug": "help",
                "allowed_origins": [ORIGIN],
            },
        )
        assert bot.status_code == 201, bot.text
        key = http.post(
            "/v1/admin/api-keys",
            json={
                "tenant_id": tenant.json()["id"],
                "kind": "publishable",
                "bot_id": bot.json()["id"],
            },
        )
        assert key.status_code == 201, key.text
        return {
            "bot_id": bot.json()["id"],
            "key": key.json()["key"],
            "session": login.json()["token"],
        }


def ask(stack: Stack, shop: dict[str, str], question: str) -> list[tuple[str, Any]]:
    """Ask through the proxy over SSE; the events as they came."""
    headers = {
        "Authorization": f"Bearer {shop['key']}",
        "Origin": ORIGIN,
        "Accept": "text/event-stream",
        "Accept-Encoding": "gzip",
    }
    with (
        client(stack) as http,
        http.stream("POST", "/v1/chat", json={"message": question}, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        # SSE is never compressed (Caddy would buffer it), and arrives as events.
        assert "content-encoding" not in response.headers
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n", 1)
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def wait_for_answer(stack, shop, question: str, needle: str, timeout: float = 90) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        events = ask(stack, shop, question)
        if needle in events[-1][1].get("answer", ""):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"never answered with {needle!r}: {events[-1]}")
        time.sleep(1)


def test_a_document_put_into_the_bucket_becomes_answerable_through_the_webhook(stack, shop):
    key = "fjord/help/repairs.md"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=DOCUMENT.encode())
    notified = stack.notify(key)
    assert notified.status_code == 200, notified.text
    assert notified.json()["results"][0]["action"] == "ingested"
    events = ask(stack, shop, "How much does a seam repair cost?")
    names = [name for name, _ in events]
    assert names[-1] == "done"
    assert "token" in names  # the answer streamed before the final event
    done = events[-1][1]
    assert done["source"] == "rag"
    assert "25 euros" in done["answer"]


def test_the_scheduler_polls_in_what_no_event_announced(stack, shop):
    stack.start_scheduler()
    key = "fjord/help/opening-hours.md"
    body = "# Opening hours\n\nThe Leipzig workshop is open Tuesday to Saturday, 10 to 18.\n"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body.encode())
    wait_for_answer(stack, shop, "When is the Leipzig workshop open?", "Tuesday to Saturday")


def test_the_webhook_refuses_a_wrong_secret(stack):
    wrong = httpx2.post(stack.webhook, json={"Records": []}, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"


def test_each_client_address_has_its_own_login_limit_and_spoofing_does_not_help(stack, shop):
    def attempt(address: str, **headers: str) -> int:
        with client(stack, address, **headers) as http:
            body = {"username": f"nobody-{os.urandom(3).hex()}", "password": "wrong password"}
            return http.post("/v1/admin/login", json=body).status_code

    statuses = [attempt("127.0.0.2") for _ in range(31)]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429
    # The same machine claiming to be someone else is still itself: Caddy replaces the header.
    assert attempt("127.0.0.2", **{"X-Forwarded-For": "198.51.100.7"}) == 429
    # Another visitor is not locked out by the first one.
    assert attempt("127.0.0.3") == 401


def test_metrics_are_scraped_from_the_functions_never_through_the_proxy(stack, shop):
    with client(stack) as http:
        hidden = http.get("/metrics")
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "not_found"
    scraped = httpx2.get(stack.functions["chat"] + "/metrics").text
    assert re.search(r'parley_answers_total\{source="rag"\} [1-9]', scraped)
    assert 'parley_http_requests_total{function="chat",route="/v1/chat",status="200"}' in scraped


def test_the_proxy_serves_the_site_with_security_headers(stack):
    with client(stack) as http:
        widget = http.get("/widget.js", headers={"Accept-Encoding": "gzip"})
        assert widget.status_code == 200
        assert widget.headers["content-encoding"] == "gzip"
        assert "window.Parley" in widget.text
        api = http.get("/openapi.json")
        assert "/v1/admin/login" in api.json()["paths"]
        for header in ("strict-transport-security", "x-content-type-options", "referrer-policy"):
            assert header in api.headers
        assert "server" not in api.headers
        wait_until_responds(stack.proxy + "/dashboard/_stcore/health", timeout=60)


def test_the_dashboard_runs_under_its_content_security_policy(stack, shop, browser):
    """Through the proxy, as people reach it: every page renders and nothing is refused."""
    from playwright.sync_api import expect

    from tests.test_dashboard import PAGES
    from tests.utils.browser import log_in_to_dashboard, open_every_page

    ask(stack, shop, "Do you ship to Norway?")  # something for the pages to show
    wait_until_responds(stack.proxy + "/dashboard/_stcore/health", timeout=60)
    with client(stack) as http:
        policy = http.get("/dashboard/").headers["content-security-policy"]
    assert "'unsafe-eval'" not in policy
    assert "script-src 'self' 'sha256-" in policy
    refused: list[str] = []
    page = log_in_to_dashboard(
        browser,
        stack.proxy + "/dashboard/",
        stack.env["PARLEY_ADMIN_USERNAME"],
        stack.env["PARLEY_ADMIN_PASSWORD"],
        console=lambda m: refused.append(m.text) if "Security Policy" in m.text else None,
    )
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Logged in as")).to_be_visible(timeout=30_000)
    open_every_page(page, sidebar, PAGES)
    page.context.close()
    assert refused == []
