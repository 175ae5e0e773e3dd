"""Property-based fuzzing of every route in /openapi.json with Schemathesis (its examples,
coverage, fuzzing and stateful phases), against ``parley serve`` on loopback, as an outside
client would see it: no 500, every status documented, responses as documented, every refusal
in the JSON error shape, no traceback or SQL in a body (tests/fuzz/checks.py).

Two credentials, so each route is reached by someone it admits: a dashboard admin session
for the admin API, a tenant's secret key for chat, GDPR and the widget routes. Left out for
the session: the two operations that end it (logout, and changing a user, which may be the
admin itself: its sessions end with a new password).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

from tests.utils.servers import ParleyProcess

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "parley_error_shape",
        "parley_no_internals",
    ]
)
SECONDS_PER_RUN = 50
PASSWORD = "fuzz-password-0123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    env = {
        "PARLEY_ADMIN_USERNAME": "fuzzer",
        "PARLEY_ADMIN_PASSWORD": PASSWORD,
        "PARLEY_DEMO": "1",
        # The fuzzer sends thousands of requests a minute with one credential.
        "PARLEY_API_RATE_LIMIT": "1000000",
        "PARLEY_INGEST_SECRET": "fuzz-ingest-secret-0123",
    }
    process = ParleyProcess(data_dir, env).start()
    try:
        yield process
    finally:
        process.close()


@pytest.fixture(scope="module")
def credentials(server) -> tuple[str, str, str]:
    """A dashboard session of the admin, a secret key of the demo tenant and its bot's id
    (made before any fuzzing: the fuzzer's wrong passwords soon rate-limit logging in)."""
    url = server.url
    login = httpx2.post(
        f"{url}/v1/admin/login", json={"username": "fuzzer", "password": PASSWORD}
    ).raise_for_status()
    session = login.json()["token"]
    headers = {"Authorization": f"Bearer {session}"}
    tenants = httpx2.get(f"{url}/v1/admin/tenants", headers=headers).raise_for_status()
    tenant_id = tenants.json()["items"][0]["id"]
    created = httpx2.post(
        f"{url}/v1/admin/api-keys",
        headers=headers,
        json={"tenant_id": tenant_id, "kind": "secret", "role": "saas_user", "name": "fuzz"},
    ).raise_for_status()
    bots = httpx2.get(f"{url}/v1/admin/bots", headers=headers).raise_for_status()
    return session, created.json()["key"], bots.json()["items"][0]["id"]


@dataclass
class Run:
    code: int
    output: str
    requests: int = 0
    operations: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    checks: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def why(self) -> str:
        """Schemathesis's own account of a failed run: its FAILURES section when it found
        something, else (an error of its own, exit code 2) the end of its output."""
        failures = self.output.find("FAILURES")
        told = self.output[failures:][:8000] if failures >= 0 else self.output[-8000:]
        return "\n".join([told, *self.errors])


def fuzz(url: str, token: str, bot_id: str, report: Path, *selection: str) -> Run:
    """Run Schemathesis; what it sent and checked, from its event log."""
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json"),
        *("--header", f"Authorization: Bearer {token}"),
        *("--checks", CHECKS),
        *("--seed", "20261202", "--max-examples", "30", "--workers", "1"),
        *("--max-time", str(SECONDS_PER_RUN), "--request-timeout", "30"),
        *("--report", "ndjson", "--report-ndjson-path", str(report)),
        *selection,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "SCHEMATHESIS_HOOKS": "tests.fuzz.checks",
        "PARLEY_FUZZ_BOT_ID": bot_id,
        "NO_COLOR": "1",
    }
    # Run where nothing is left from earlier runs: Schemathesis and Hypothesis keep examples
    # and crashes in the working directory (.hypothesis, .schemathesis) and replay them, so
    # a run in a checkout that had fuzzed before generated other requests than CI's.
    workdir = report.with_suffix(".workdir")
    workdir.mkdir()
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    run = Run(done.returncode, done.stdout + done.stderr)
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for kind in ("FatalError", "NonFatalError"):
            if kind in event:  # what ended or marred the run, for the failure message
                run.errors.append(f"{kind}: {json.dumps(event[kind])[:2000]}")
        scenario = event.get("ScenarioFinished")
        if scenario is None:
            continue
        recorder = scenario["recorder"]
        for interaction in recorder.get("interactions", {}).values():
            run.requests += 1
            run.operations.add(recorder["label"])
            if interaction.get("response"):
                run.statuses[interaction["response"]["status_code"]] += 1
        for checks in recorder.get("checks", {}).values():
            run.checks.update(check["name"] for check in checks)
    print(  # the volume, for the closing note: pytest -s shows it
        f"{report.stem}: {run.requests} requests over {len(run.operations)} operations;"
        f" statuses {dict(sorted(run.statuses.items()))}"
    )
    return run


def assert_clean(run: Run, *, operations: int) -> None:
    assert run.code == 0, run.why()
    assert {"parley_error_shape", "parley_no_internals"} <= run.checks  # our checks ran
    assert len(run.operations) >= operations, sorted(run.operations)
    assert not [status for status in run.statuses if status >= 500]


def test_chat_gdpr_and_widget_survive_fuzzing_as_documented(server, credentials, tmp_path):
    _, key, bot_id = credentials
    run = fuzz(
        server.url,
        key,
        bot_id,
        tmp_path / "chat.ndjson",
        *("--include-path-regex", "^/v1/(chat|gdpr|widget)"),
    )
    assert_clean(run, operations=10)


# Last: fuzzing the admin API may revoke the key or delete the tenant the chat run uses.
def test_the_admin_api_survives_fuzzing_as_documented(server, credentials, tmp_path):
    session, _, bot_id = credentials
    run = fuzz(
        server.url,
        session,
        bot_id,
        tmp_path / "admin.ndjson",
        *("--include-path-regex", "^/(v1/admin|v1/ingest|healthz|readyz)"),
        *("--exclude-path", "/v1/admin/logout"),
        *("--exclude-operation-id", "patch_v1_admin_users_{user_id}"),
    )
    assert_clean(run, operations=40)
