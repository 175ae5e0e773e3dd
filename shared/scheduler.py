"""The operator's recurring jobs and a loop that runs each on its interval.

The production stack runs ``parley scheduler`` as one service; on AWS Lambda, EventBridge
schedules invoke a function with ``{"parley_job": "<name>"}`` and :func:`run_job` does the
same work. Every job is safe to run twice and safe to run late: it works from what the
database and the bucket hold, not from anything remembered between runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from shared import ratelimit
from shared.db import sessions
from shared.logging import get_logger
from shared.runtime import Runtime

log = get_logger("parley.scheduler")

JobResult = dict[str, int]


async def _poll(runtime: Runtime) -> JobResult:
    from shared.ingest.poll import poll

    return await poll(runtime, runtime.get_storage())


async def _archive(runtime: Runtime) -> JobResult:
    from shared.ingest.archive import archive

    return await archive(runtime, runtime.get_storage())


async def _gdpr(runtime: Runtime) -> JobResult:
    from shared.gdpr.requests import purge_exports, resume

    finished = await resume(runtime)
    return {"finished": len(finished), "exports_deleted": await purge_exports(runtime)}


async def _notify(runtime: Runtime) -> JobResult:
    from shared.handoff.notify import deliver

    return await deliver(runtime.settings, runtime.db, runtime.cipher)


async def _purge(runtime: Runtime) -> JobResult:
    async with runtime.db.connection() as conn:
        limits = await ratelimit.purge_expired(conn)
        logins = await sessions.purge_expired(conn)
    return {"rate_limit_rows": limits, "sessions": logins}


async def _indexes(runtime: Runtime) -> JobResult:
    from shared.db import bot_indexes

    async with runtime.db.connection() as conn:
        changes = await bot_indexes.sync(conn, dim=runtime.get_embedder().dim)
    return {
        "ready": sum(c.action == "ready" for c in changes),
        "dropped": sum(c.action == "dropped" for c in changes),
    }


async def _paraphrase(runtime: Runtime) -> JobResult:
    from shared.faq_paraphrase import paraphrase_pending

    return await paraphrase_pending(runtime)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Runtime], Awaitable[JobResult]]
    every: float  # seconds between the starts of two runs
    what: str


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("poll", _poll, 300, "ingest what the bucket's events missed; drop what is gone"),
        Job("archive", _archive, 3600, "move conversations past retention into the bucket"),
        Job("gdpr", _gdpr, 300, "finish interrupted GDPR requests; delete expired exports"),
        Job("purge", _purge, 3600, "delete expired sessions and rate-limit rows"),
        Job("notify", _notify, 30, "retry handoff notifications (webhook, e-mail) that failed"),
        Job("indexes", _indexes, 600, "give bots with many chunks indexes of their own"),
        Job("paraphrase", _paraphrase, 300, "have the bots' LLM paraphrase new FAQ questions"),
    )
}


class UnknownJobError(ValueError):
    pass


async def run_job(runtime: Runtime, name: str) -> JobResult:
    """Run one job now; its counts. Unknown names raise :class:`UnknownJobError`."""
    job = JOBS.get(name)
    if job is None:
        raise UnknownJobError(f"no job {name!r}; the jobs are {', '.join(JOBS)}")
    started = time.monotonic()
    result = await job.run(runtime)
    log.info(
        "job finished",
        job=name,
        seconds=round(time.monotonic() - started, 3),
        **{k: int(v) for k, v in result.items()},
    )
    return result


async def run_forever(
    runtime: Runtime,
    intervals: Mapping[str, float],
    *,
    stop: asyncio.Event,
) -> None:
    """Run each job at start, then every ``intervals[name]`` seconds, until ``stop`` is set.

    A job that fails is logged and tried again at its next turn; it never stops the others.
    """
    due = dict.fromkeys(intervals, time.monotonic())
    while due and not stop.is_set():
        for name, at in sorted(due.items(), key=lambda item: item[1]):
            if stop.is_set() or at > time.monotonic():
                continue
            try:
                await run_job(runtime, name)
            except Exception:  # the next turn retries; the loop keeps going
                log.exception("job failed", job=name)
            due[name] = time.monotonic() + intervals[name]
        wait = max(0.0, min(due.values()) - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
