"""The operator's jobs as the production stack runs them: ``parley migrate`` bootstraps the
admin from the environment, ``parley scheduler`` runs poll, archive, gdpr and purge."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys

import psycopg
import pytest

from shared import scheduler
from shared.passwords import verify_password


@pytest.fixture
def job_env(make_database, tmp_path):
    """The environment a container gets: an empty database, a master key, no demo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        DATABASE_URL=make_database(),
        PARLEY_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        PARLEY_DATA_DIR=str(tmp_path / "data"),
        PARLEY_DEMO="0",
    )
    return env


def parley(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def admins(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT username, password_hash FROM users WHERE role = 'admin'"
        ).fetchall()


def test_migrate_creates_then_updates_the_admin_from_the_environment(job_env):
    bare = parley(job_env, "migrate")
    assert bare.returncode == 0, bare.stderr
    assert "no admin user yet" in bare.stderr
    assert admins(job_env["DATABASE_URL"]) == []

    env = {**job_env, "PARLEY_ADMIN_USERNAME": "ops", "PARLEY_ADMIN_PASSWORD": "first password!"}
    first = parley(env, "migrate")
    assert first.returncode == 0, first.stderr
    assert "admin user 'ops' is set up" in first.stdout
    assert "first password!" not in first.stdout + first.stderr
    [(name, stored)] = admins(env["DATABASE_URL"])
    assert name == "ops"
    assert verify_password("first password!", stored)

    env["PARLEY_ADMIN_PASSWORD"] = "second password!"
    assert parley(env, "migrate").returncode == 0
    [(_, stored)] = admins(env["DATABASE_URL"])
    assert verify_password("second password!", stored)
    assert not verify_password("first password!", stored)


def test_scheduler_once_runs_every_job_against_the_database(job_env):
    assert parley(job_env, "migrate").returncode == 0
    with psycopg.connect(job_env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO rate_limits (bucket, tat, expires_at)"
            " VALUES ('old', now() - interval '2 hours', now() - interval '1 hour')"
        )
    result = parley(job_env, "scheduler", "--once")
    assert result.returncode == 0, result.stderr
    ran = [line.split(" ", 1)[0] for line in result.stdout.splitlines()]
    assert ran == list(scheduler.JOBS)
    assert "purge {'rate_limit_rows': 1, 'sessions': 0}" in result.stdout
    with psycopg.connect(job_env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM rate_limits").fetchone() == (0,)


def test_scheduler_rejects_a_bad_interval_in_one_line(job_env):
    result = parley(job_env, "scheduler", "--every", "poll=soon")
    assert result.returncode == 1
    assert result.stderr.strip() == "parley: error: --every poll=soon: give seconds, e.g. poll=60"
    unknown = parley(job_env, "scheduler", "--every", "backup=60")
    assert "no job 'backup'" in unknown.stderr


async def test_a_failing_job_is_retried_and_never_stops_the_others(runtime, monkeypatch):
    runs = {"good": 0, "bad": 0}

    async def good(rt):
        runs["good"] += 1
        return {"done": 1}

    async def bad(rt):
        runs["bad"] += 1
        raise RuntimeError("the bucket is down")

    monkeypatch.setitem(scheduler.JOBS, "good", scheduler.Job("good", good, 0.05, "test"))
    monkeypatch.setitem(scheduler.JOBS, "bad", scheduler.Job("bad", bad, 0.05, "test"))
    stop = asyncio.Event()
    task = asyncio.create_task(
        scheduler.run_forever(runtime, {"good": 0.05, "bad": 0.05}, stop=stop)
    )
    await asyncio.sleep(0.4)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert runs["bad"] >= 3
    assert runs["good"] >= 3
    with pytest.raises(scheduler.UnknownJobError):
        await scheduler.run_job(runtime, "nothing")
