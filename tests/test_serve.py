"""`parley serve` as a user runs it: embedded database, first start, restart, clean stop."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import stat
import subprocess
import sys

import httpx2
import psycopg
import pytest
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin

from tests.utils.servers import ParleyProcess, postgres_processes


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "state"
    yield path
    for proc in postgres_processes(path / "pg"):  # never leave a server behind
        proc.kill()


def count(pgdata, query: str) -> int:
    """Count rows through the embedded server's socket while Parley runs."""
    with psycopg.connect(f"postgresql://postgres@/postgres?host={pgdata}") as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])


def test_first_start_restart_and_clean_stop(data_dir):
    env = {"PARLEY_ADMIN_USERNAME": "", "PARLEY_ADMIN_PASSWORD": ""}
    first = ParleyProcess(data_dir, env).start()
    try:
        assert httpx2.get(first.url + "/readyz").json() == {"status": "ready"}
        page = httpx2.get(first.url + "/").text
        assert "Fernwood Outfitters" in page
        # the widget's socket: accepted from the page's own site, its small frames sent as
        # they are (no per-message compression, whatever the client offers)
        key = re.search(r'data-key="([^"]+)"', page)
        assert key, page
        socket_url = first.url.replace("http", "ws", 1) + f"/v1/chat/ws?key={key[1]}"
        with ws_connect(socket_url, origin=Origin(first.url), compression="deflate") as ws:
            assert ws.response is not None
            assert "permessage-deflate" not in ws.response.headers.get(
                "Sec-WebSocket-Extensions", ""
            )
        faqs = count(data_dir / "pg", "SELECT count(*) FROM faqs")
        assert faqs >= 30
        assert count(data_dir / "pg", "SELECT count(*) FROM documents") == 3
        with psycopg.connect(f"postgresql://postgres@/postgres?host={data_dir / 'pg'}") as conn:
            conn.execute("CREATE TABLE keepme AS SELECT 42 AS answer")
        key_file = data_dir / "master.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(base64.b64decode(key_file.read_text())) == 32
    finally:
        assert first.stop(signal.SIGTERM) == 128 + signal.SIGTERM
    output = first.output()
    password = re.search(r"admin user 'admin' with the password:\s+(\S+)", output)
    assert password, output
    # the generated password appears once on the terminal and in no log line
    assert output.count(password[1]) == 1
    assert not postgres_processes(data_dir / "pg"), "SIGTERM left PostgreSQL running"

    second = ParleyProcess(data_dir, env).start()
    try:
        assert count(data_dir / "pg", "SELECT answer FROM keepme") == 42
        assert count(data_dir / "pg", "SELECT count(*) FROM faqs") == faqs  # seeded once
        assert count(data_dir / "pg", "SELECT count(*) FROM users") == 1
    finally:
        assert second.stop(signal.SIGINT) in (0, 128 + signal.SIGINT, -signal.SIGINT)
    assert "with the password" not in second.output()
    assert not postgres_processes(data_dir / "pg"), "Ctrl-C left PostgreSQL running"


def test_a_crashed_server_leaves_nothing_running_after_close(data_dir):
    # GIVEN a server killed the hard way, which leaves its embedded PostgreSQL up
    server = ParleyProcess(data_dir, {"PARLEY_DEMO": "0"}).start()
    server.kill()
    assert postgres_processes(data_dir / "pg"), "expected the database to outlive a SIGKILL"
    # WHEN the test harness closes it THEN nothing it started is still running
    server.close()
    assert not postgres_processes(data_dir / "pg")


def test_a_port_in_use_is_a_clear_error_before_any_start_up_work(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ParleyProcess(data_dir, {"PARLEY_DEMO": "0"}, port=port).start(wait=False)
        assert server.proc is not None
        assert server.proc.wait(timeout=60) == 1
    output = server.output()
    assert f"parley: error: cannot listen on 127.0.0.1:{port}" in output
    assert f"--port {port + 1}" in output
    assert "Traceback" not in output
    assert not (data_dir / "pg").exists(), "nothing should start when the port is taken"


def test_wrong_master_key_is_a_clear_error(data_dir):
    env = {"PARLEY_MASTER_KEY": base64.b64encode(b"k" * 32).decode(), "PARLEY_DEMO": "0"}
    ParleyProcess(data_dir, env).start().stop()
    other = ParleyProcess(
        data_dir, {**env, "PARLEY_MASTER_KEY": base64.b64encode(b"x" * 32).decode()}
    )
    other.start(wait=False)
    assert other.proc is not None
    assert other.proc.wait(timeout=60) == 1
    lines = [line for line in other.output().splitlines() if line.startswith("parley: error:")]
    assert lines
    assert "not the key this database was set up with" in lines[0]
    assert "Traceback" not in other.output()
    assert not postgres_processes(data_dir / "pg")


def test_admin_create_user_from_the_command_line(tmp_path):
    data = tmp_path / "cli-state"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "parley",
                "admin",
                "create-user",
                *args,
                "--data-dir",
                str(data),
                "--password-stdin",
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )

    subprocess.run(
        [sys.executable, "-m", "parley", "migrate", "--data-dir", str(data)],
        check=True,
        capture_output=True,
        timeout=120,
        env=env,
    )
    ok = run("ops", stdin="a long enough password\n")
    assert ok.returncode == 0, ok.stderr
    assert "created admin ops" in ok.stdout
    assert "a long enough password" not in ok.stdout + ok.stderr
    taken = run("ops", stdin="a long enough password\n")
    assert taken.returncode == 1
    assert taken.stderr.strip().splitlines()[-1] == "parley: error: the username 'ops' is taken"
    short = run("other", stdin="short\n")
    assert "at least 10 characters" in short.stderr
    orphan = run("seller", "--role", "saas_user", stdin="a long enough password\n")
    assert "--tenant" in orphan.stderr


def test_a_dashboard_port_in_use_names_its_own_flag(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ParleyProcess(data_dir, {"PARLEY_DEMO": "0"}, dashboard_port=port)
        server.start(wait=False)
        assert server.proc is not None
        assert server.proc.wait(timeout=60) == 1
    output = server.output()
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert f"--dashboard-port {port + 1} or --no-dashboard" in output
    assert not (data_dir / "pg").exists()


def test_without_the_dashboard_extra_serve_says_so_and_goes_on(monkeypatch, capsys, data_dir):
    """The function image has no Streamlit: `parley serve` there serves the API only."""
    from parley import cli

    monkeypatch.setattr(cli, "installed", lambda: False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = cli.main(["serve", "--port", str(port), "--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert code == 1  # the port is taken: stops there, after the notice
    assert "The dashboard is not installed (pip install 'parley[dashboard]')" in err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "--dashboard-port" not in err
