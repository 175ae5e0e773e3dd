"""The ``parley`` command: serve, migrate and the operator's jobs.

parley serve [--host 127.0.0.1] [--port 8000] [--data-dir ./.parley]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from parley.dashboard import DashboardError, add_arguments, installed
from parley.ports import PortInUseError, check_port_free
from shared.backup import BackupError
from shared.config import ConfigError, Settings, load_settings
from shared.db.embedded import EmbeddedDatabaseError
from shared.db.migrate import SchemaError, migrate
from shared.db.pool import Conn
from shared.embeddings.base import EmbeddingError
from shared.errors import ConflictError, DatabaseUnavailableError
from shared.logging import configure_logging
from shared.masterkey import MasterKeyMismatchError, resolve_keyring, rotate_master_key
from shared.rag.index import EmbeddingModelMismatchError, reindex
from shared.runtime import Runtime
from shared.scheduler import JOBS, run_forever, run_job
from shared.storage.base import StorageError
from shared.storage.factory import make_storage

T = TypeVar("T")


class CommandError(Exception):
    """A failure to report as one line and exit status 1."""


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    if getattr(args, "data_dir", None) is not None:
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
    return settings


def _announce_admin(username: str, password: str | None) -> None:
    if password is None:
        return
    # Printed to the terminal once, on purpose: this is the only place it ever appears.
    print(
        f"\n  Parley created the admin user '{username}' with the password:\n\n"
        f"      {password}\n\n"
        "  Store it now; it is not shown again. Set PARLEY_ADMIN_USERNAME and\n"
        "  PARLEY_ADMIN_PASSWORD to choose your own.\n",
        file=sys.stderr,
        flush=True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from parley.server import create_local_app

    if not args.no_dashboard and not installed():
        print(
            "The dashboard is not installed (pip install 'parley[dashboard]'): serving the API"
            " and the widget only.",
            file=sys.stderr,
        )
        args.no_dashboard = True
    check_port_free(args.host, args.port)
    if not args.no_dashboard:
        check_port_free(args.host, args.dashboard_port, "--dashboard-port", " or --no-dashboard")
    settings = _settings(args)
    configure_logging(settings.log_level)
    origin = f"http://{args.host}:{args.port}"
    runtime = Runtime.from_settings(settings)
    board = None
    try:
        # Start-up work runs before serving, so a failure is one line, not a traceback.
        asyncio.run(_prepare(runtime, origin))
        app = create_local_app(runtime)
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
            # Forwarded headers count only from PARLEY_TRUSTED_PROXIES (shared.http.forwarded),
            # not from whatever uvicorn trusts by default.
            proxy_headers=False,
            # The widget's frames are small JSON (a token, a done): compressing each cost the
            # server about a millisecond of CPU an answer at 16 visitors (docs/faq-matching.md).
            ws_per_message_deflate=False,
        )
        if not args.no_dashboard:
            from parley import dashboard

            board = dashboard.start(api_url=origin, host=args.host, port=args.dashboard_port)
            print(
                f"The dashboard is on http://{args.host}:{args.dashboard_port}",
                file=sys.stderr,
                flush=True,
            )
        print(f"Parley is serving on {origin}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal; with this
        # handler that ends in SystemExit, so the embedded database below is stopped too.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        uvicorn.Server(config).run()
    finally:
        if board is not None:
            from parley import dashboard

            dashboard.stop(board)
        runtime.stop_embedded()
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Run the dashboard in the foreground against a running Parley's API."""
    from parley import dashboard

    return dashboard.run(args)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


async def _prepare(runtime: Runtime, origin: str) -> None:
    from parley.server import prepare

    try:
        await prepare(
            runtime,
            public_origin=origin,
            announce=lambda admin: _announce_admin(admin.username, admin.generated_password),
        )
    finally:
        # The pool belongs to this short-lived event loop; the server opens its own.
        await runtime.db.close()


def _run_job(
    args: argparse.Namespace, job: Callable[[Runtime, Conn], Awaitable[T]]
) -> tuple[Runtime, T]:
    """Run one unit of database work for an operator command, then shut down cleanly."""
    settings = _settings(args)
    configure_logging(settings.log_level)
    runtime = Runtime.from_settings(settings)

    async def run() -> T:
        try:
            async with runtime.db.connection() as conn:
                return await job(runtime, conn)
        finally:
            await runtime.aclose()

    try:
        return runtime, asyncio.run(run())
    finally:
        runtime.stop_embedded()


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply migrations, create or update the admin named by PARLEY_ADMIN_USERNAME and
    PARLEY_ADMIN_PASSWORD (the production stack's only way to its first login), and
    re-embed the knowledge base if the local embedding model changed."""
    from shared.bootstrap import ensure_configured_admin
    from shared.db import users
    from shared.rag.index import check_embedding_model

    async def job(runtime: Runtime, conn: Conn) -> tuple[list[int], str | None, bool, int]:
        applied = await migrate(conn)
        admin = await ensure_configured_admin(conn, runtime.settings)
        embedder = runtime.get_embedder()
        embedded = await check_embedding_model(conn, embedder, runtime.embedder_for)
        return applied, admin, await users.count_admins(conn) > 0, embedded

    runtime, (applied, admin, any_admin, embedded) = _run_job(args, job)
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    if embedded:
        print(f"re-embedded {embedded} texts with {runtime.get_embedder().name}")
    if admin is not None:
        print(f"admin user {admin!r} is set up with PARLEY_ADMIN_PASSWORD")
    elif not any_admin:
        print(
            "no admin user yet: set PARLEY_ADMIN_USERNAME and PARLEY_ADMIN_PASSWORD and run"
            " migrate again, or run `parley admin create-user NAME`",
            file=sys.stderr,
        )
    return 0


def cmd_rotate_master_key(args: argparse.Namespace) -> int:
    """Rewrap every tenant key under PARLEY_MASTER_KEY; the old key goes in
    PARLEY_PREVIOUS_MASTER_KEYS while processes roll over."""
    if not _settings(args).previous_master_keys():
        raise CommandError(
            "set PARLEY_MASTER_KEY to the new key and PARLEY_PREVIOUS_MASTER_KEYS to the old one"
        )
    runtime, count = _run_job(args, lambda rt, conn: rotate_master_key(conn, rt.keyring))
    print(f"rewrapped {count} tenant keys under master key {runtime.keyring.current_id}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    """Re-embed every FAQ phrasing and chunk with the configured embedding provider."""
    runtime, count = _run_job(
        args, lambda rt, conn: reindex(conn, rt.get_embedder(), rt.embedder_for)
    )
    print(f"re-embedded {count} texts with {runtime.get_embedder().name}")
    return 0


def cmd_prepare_model(args: argparse.Namespace) -> int:
    """Export the local model to ONNX into PARLEY_MODEL_DIR now, not on the first start."""
    settings = _settings(args)
    if settings.embeddings != "local" or settings.local_runtime != "onnx":
        print(
            f"nothing to prepare: PARLEY_EMBEDDINGS={settings.embeddings},"
            f" PARLEY_LOCAL_RUNTIME={settings.local_runtime}"
        )
        return 0
    from shared.embeddings.onnx import model_file, prepare

    path = model_file(settings.model_dir)
    print(f"{'exported' if prepare(path) else 'already prepared:'} {path}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Poll the bucket: ingest new or changed objects, remove what is gone."""
    from shared.ingest.poll import poll

    _, counts = _run_job(args, lambda rt, conn: poll(rt, rt.get_storage()))
    print(", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing stored")
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    """Move conversations past each bot's retention into the bucket."""
    from shared.ingest.archive import archive

    _, totals = _run_job(args, lambda rt, conn: archive(rt, rt.get_storage()))
    print(
        f"archived {totals['conversations']} conversations ({totals['messages']} messages)"
        f" in {totals['objects']} objects"
    )
    return 0


def cmd_gdpr(args: argparse.Namespace) -> int:
    """``run``: finish interrupted GDPR requests, delete expired exports (schedule it).
    ``replay``: after a database restore, erase again what the tombstones name."""
    if args.job == "replay":
        from shared.gdpr.replay import replay

        _, totals = _run_job(args, lambda rt, conn: replay(rt))
        print(
            f"replayed {totals['tombstones']} tombstones: erased again {totals['conversations']}"
            f" conversations ({totals['messages']} messages) in"
            f" {totals['archive_objects']} archive objects, {totals['tenants']} tenants"
        )
        return 0
    from shared.gdpr.requests import purge_exports, resume

    async def run(rt: Runtime, conn: Conn) -> tuple[int, int]:
        finished = await resume(rt, idle_seconds=args.idle_seconds)
        return len(finished), await purge_exports(rt)

    _, (finished, purged) = _run_job(args, run)
    print(f"finished {finished} interrupted requests, deleted {purged} expired exports")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """put: seal a pg_dump read from standard input into the bucket; list; get NAME: the
    dump on standard output (for pg_restore). Needs no database connection."""
    from shared import backup

    if args.keep < 1:
        raise CommandError("--keep must be at least 1")
    settings = _settings(args)
    configure_logging(settings.log_level)
    keyring, storage = resolve_keyring(settings), make_storage(settings)
    if args.job == "put":
        name, deleted = asyncio.run(
            backup.put(storage, keyring, sys.stdin.buffer.read(), keep=args.keep)
        )
        print(f"stored {name}" + (f"; deleted {len(deleted)} older" if deleted else ""))
    elif args.job == "list":
        print("\n".join(asyncio.run(backup.names(storage))) or "no backups", flush=True)
    else:
        if not args.name:
            raise CommandError("parley backup get NAME (see parley backup list)")
        sys.stdout.buffer.write(asyncio.run(backup.get(storage, keyring, args.name)))
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    """Print the whole API's OpenAPI description (docs/openapi.json is this output)."""
    import json

    from parley.server import api_document

    print(json.dumps(api_document(), indent=1, sort_keys=True))
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    """Run the recurring jobs on their intervals until SIGTERM (or each once, --once)."""
    intervals = {name: job.every for name, job in JOBS.items()}
    for item in args.every or []:
        name, _, seconds = item.partition("=")
        if name not in intervals:
            raise CommandError(f"--every {item}: no job {name!r} ({', '.join(intervals)})")
        try:
            intervals[name] = float(seconds)
        except ValueError:
            raise CommandError(f"--every {item}: give seconds, e.g. {name}=60") from None
        if intervals[name] <= 0:
            raise CommandError(f"--every {item}: the interval must be positive")
    for name in args.skip or []:
        intervals.pop(name, None)
    settings = _settings(args)
    configure_logging(settings.log_level)
    runtime = Runtime.from_settings(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            if args.once:
                for name in intervals:
                    print(name, await run_job(runtime, name), flush=True)
            else:
                print(
                    "scheduler: "
                    + ", ".join(f"{name} every {s:g} s" for name, s in intervals.items()),
                    file=sys.stderr,
                    flush=True,
                )
                await run_forever(runtime, intervals, stop=stop)
        finally:
            await runtime.aclose()

    try:
        asyncio.run(run())
    finally:
        runtime.stop_embedded()
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    """Create a dashboard user; the password is read from the terminal or standard input."""
    import getpass

    from shared.db import tenants, users
    from shared.passwords import hash_password

    password = (
        sys.stdin.readline().rstrip("\n")
        if args.password_stdin
        else getpass.getpass(f"Password for {args.username}: ")
    )
    if len(password) < 10:
        raise CommandError("the password must have at least 10 characters")
    if args.role == "saas_user" and not args.tenant:
        raise CommandError("a saas_user belongs to a tenant: pass --tenant SLUG")

    async def create(runtime: Runtime, conn: Conn) -> str:
        tenant_id = None
        if args.tenant:
            tenant_id = await tenants.tenant_id_by_slug(conn, slug=args.tenant)
            if tenant_id is None:
                raise CommandError(f"no tenant with slug {args.tenant!r}")
        user = await users.create_user(
            conn,
            username=args.username,
            password_hash=hash_password(password),
            role=args.role,
            tenant_id=tenant_id,
        )
        return str(user["id"])

    try:
        _, user_id = _run_job(args, create)
    except ConflictError:
        raise CommandError(f"the username {args.username!r} is taken") from None
    print(f"created {args.role} {args.username} ({user_id})")
    return 0


# What the benchmarks import beyond the runtime dependencies: the `bench` extra.
BENCH_EXTRA = {"rank_bm25", "playwright", "websockets"}


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        return _bench(args)
    except ModuleNotFoundError as exc:
        if exc.name not in BENCH_EXTRA:
            raise
        raise CommandError(
            f"parley bench {args.what} needs {exc.name}: pip install 'parley[bench]'"
        ) from None


def _bench(args: argparse.Namespace) -> int:
    if args.what == "startup":
        from parley.bench import startup

        startup.run(runs=args.runs)
    elif args.what == "faq":
        from parley.bench import faq

        if args.dataset is None or not (Path(args.dataset) / "faqs.jsonl").is_file():
            raise CommandError("--dataset must name a folder with faqs.jsonl and queries.jsonl")
        oos = Path(args.out_of_scope) if args.out_of_scope else None
        if oos is not None and not (
            (oos / "queries.jsonl").is_file() or (oos / "faqs.jsonl").is_file()
        ):
            raise CommandError("--out-of-scope must name a folder with queries.jsonl or faqs.jsonl")
        extra = args.extra_phrasings
        if (extra or args.learn) and not (Path(args.dataset) / "train.csv").is_file():
            raise CommandError(
                "--extra-phrasings and --learn need the dataset's train.csv (text,category)"
            )
        faq.run(
            Path(args.dataset),
            concurrency=args.concurrency,
            out_of_scope=oos,
            extra_phrasings=extra,
            judge=args.judge,
            learn=args.learn,
        )
    elif args.what == "ingest":
        from parley.bench import ingest

        ingest.run(docs=args.docs, small=args.small)
    elif args.what == "widget":
        from parley.bench import widget

        widget.run(runs=max(args.runs, 3))
    elif args.what == "load":
        from parley.bench import load

        levels = [int(n) for n in args.levels.split(",") if n.strip()]
        if not levels or min(levels) < 1 or max(levels) > 256:
            raise CommandError("--levels takes numbers of visitors from 1 to 256, e.g. 1,4,16,64")
        load.run(levels, seconds=args.seconds)
    elif args.what == "soak":
        from parley.bench import soak

        if args.rounds < 2:
            raise CommandError("--rounds must be at least 2")
        soak.run(rounds=args.rounds)
    elif args.what == "gdpr":
        from parley.bench import gdpr

        if args.runs < 1 or args.archived < 0:
            raise CommandError("--runs must be at least 1 and --archived not negative")
        gdpr.run(runs=args.runs, archived=args.archived)
    elif args.what == "cache":
        from parley.bench import cache

        if args.runs < 1:
            raise CommandError("--runs must be at least 1")
        cache.run(runs=args.runs)
    elif args.what == "ttft":
        from parley.bench import ttft

        ttft.run(runs=args.runs)
    elif args.what == "scale":
        from parley.bench import scale

        if args.chunks < 1000 or not 1 <= args.bots <= args.chunks // 10 or args.queries < 1:
            raise CommandError(
                "--chunks must be at least 1000, --bots from 1 to a tenth of --chunks,"
                " --queries at least 1"
            )
        try:
            ef_search = tuple(int(v) for v in args.ef_search.split(",")) if args.ef_search else ()
        except ValueError:
            ef_search = (0,)
        if any(not 1 <= v <= 1000 for v in ef_search):
            raise CommandError("--ef-search must be numbers from 1 to 1000, separated by commas")
        scale.run(chunks=args.chunks, bots=args.bots, queries=args.queries, ef_search=ef_search)
    elif args.what == "pii":
        from parley.bench import pii

        if args.dataset is not None and not (Path(args.dataset) / "queries.jsonl").is_file():
            raise CommandError("--dataset must name a folder with queries.jsonl")
        pii.run(Path(args.dataset) if args.dataset else None)
    elif args.what == "handoff":
        from parley.bench import handoff

        if args.runs < 1:
            raise CommandError("--runs must be at least 1")
        handoff.run(runs=args.runs)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run all functions, the widget and the demo page")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--data-dir", help="local state folder (default: PARLEY_DATA_DIR or ./.parley)"
    )
    serve.add_argument(
        "--dashboard-port", type=int, default=8501, help="where the dashboard listens"
    )
    serve.add_argument("--no-dashboard", action="store_true", help="serve the API and widget only")
    serve.set_defaults(func=cmd_serve)

    board = sub.add_parser("dashboard", help="run the Streamlit dashboard")
    add_arguments(board)
    board.set_defaults(func=cmd_dashboard)

    mig = sub.add_parser("migrate", help="apply database migrations and exit")
    mig.add_argument("--data-dir")
    mig.set_defaults(func=cmd_migrate)

    rotate = sub.add_parser("rotate-master-key", help="rewrap tenant keys under a new master key")
    rotate.add_argument("--data-dir")
    rotate.set_defaults(func=cmd_rotate_master_key)

    reindex_cmd = sub.add_parser("reindex", help="re-embed everything with PARLEY_EMBEDDINGS")
    reindex_cmd.add_argument("--data-dir")
    reindex_cmd.set_defaults(func=cmd_reindex)

    prepare = sub.add_parser(
        "prepare-model", help="export the local model to ONNX now (image builds run it)"
    )
    prepare.add_argument("--data-dir")
    prepare.set_defaults(func=cmd_prepare_model)

    ingest = sub.add_parser("ingest", help="ingestion jobs")
    ingest.add_argument("job", choices=["poll"])
    ingest.add_argument("--data-dir")
    ingest.set_defaults(func=cmd_ingest)

    archive_cmd = sub.add_parser("archive", help="archive conversations past their retention")
    archive_cmd.add_argument("--data-dir")
    archive_cmd.set_defaults(func=cmd_archive)

    gdpr = sub.add_parser("gdpr", help="GDPR jobs: finish requests, replay erasures")
    gdpr.add_argument("job", choices=["run", "replay"])
    gdpr.add_argument(
        "--idle-seconds",
        type=float,
        default=300,
        help="run: finish requests untouched this long (others may still be running)",
    )
    gdpr.add_argument("--data-dir")
    gdpr.set_defaults(func=cmd_gdpr)

    backup_cmd = sub.add_parser("backup", help="encrypted database backups in the bucket")
    backup_cmd.add_argument("job", choices=["put", "list", "get"])
    backup_cmd.add_argument("name", nargs="?", help="get: which backup")
    backup_cmd.add_argument("--keep", type=int, default=14, help="put: how many to keep")
    backup_cmd.add_argument("--data-dir")
    backup_cmd.set_defaults(func=cmd_backup)

    openapi = sub.add_parser("openapi", help="print the API's OpenAPI description")
    openapi.set_defaults(func=cmd_openapi)

    sched = sub.add_parser("scheduler", help="run poll, archive, gdpr and purge on intervals")
    sched.add_argument(
        "--every",
        action="append",
        metavar="JOB=SECONDS",
        help="change a job's interval, e.g. --every poll=60 (repeatable)",
    )
    sched.add_argument(
        "--skip", action="append", choices=list(JOBS), help="leave a job out (repeatable)"
    )
    sched.add_argument("--once", action="store_true", help="run every job once and exit")
    sched.add_argument("--data-dir")
    sched.set_defaults(func=cmd_scheduler)

    admin = sub.add_parser("admin", help="operator tasks")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create_user = admin_sub.add_parser("create-user", help="create a dashboard user")
    create_user.add_argument("username")
    create_user.add_argument("--role", choices=["admin", "saas_user"], default="admin")
    create_user.add_argument("--tenant", help="the tenant's slug (saas_user)")
    create_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create_user.add_argument("--data-dir")
    create_user.set_defaults(func=cmd_create_user)

    bench = sub.add_parser("bench", help="print performance figures")
    bench.add_argument(
        "what",
        choices=[
            "startup",
            "faq",
            "ttft",
            "ingest",
            "widget",
            "load",
            "soak",
            "gdpr",
            "handoff",
            "cache",
            "scale",
            "pii",
        ],
    )
    bench.add_argument("--docs", type=int, default=200, help="ingest: corpus size")
    bench.add_argument(
        "--small", action="store_true", help="ingest: documents of one short paragraph each"
    )
    bench.add_argument(
        "--runs", type=int, default=5, help="startup, ttft, gdpr, handoff, cache: how many runs"
    )
    bench.add_argument(
        "--archived", type=int, default=1000, help="gdpr: archived conversations in the tenant"
    )
    bench.add_argument("--dataset", help="faq, pii: folder with faqs.jsonl (faq) and queries.jsonl")
    bench.add_argument("--concurrency", type=int, default=16, help="faq: concurrent visitors")
    bench.add_argument(
        "--out-of-scope",
        help="faq: a folder whose questions the FAQs must not answer (queries.jsonl, or the"
        " phrasings of its faqs.jsonl, e.g. shared/demo)",
    )
    bench.add_argument(
        "--extra-phrasings",
        type=int,
        default=0,
        help="faq: give each FAQ this many more phrasings from the dataset's train.csv"
        " (a stand-in for generated paraphrases)",
    )
    bench.add_argument(
        "--learn",
        type=int,
        default=0,
        help="faq: first ask this many train.csv questions as visitors who take the right"
        " FAQ offered, then add what the knowledge gaps propose",
    )
    bench.add_argument(
        "--judge",
        action="store_true",
        help="faq: settle grey-zone matches with a stand-in LLM that knows the labels"
        " (the most an LLM's check can give)",
    )
    bench.add_argument("--levels", default="1,4,16,64", help="load: visitors at each level")
    bench.add_argument("--seconds", type=float, default=6.0, help="load: seconds per level")
    bench.add_argument("--rounds", type=int, default=12, help="soak: rounds of traffic")
    bench.add_argument("--chunks", type=int, default=1_000_000, help="scale: chunks over all bots")
    bench.add_argument("--bots", type=int, default=1000, help="scale: how many bots")
    bench.add_argument(
        "--queries", type=int, default=200, help="scale: questions asked of each bot measured"
    )
    bench.add_argument(
        "--ef-search",
        help="scale: HNSW ef_search values to measure side by side, e.g. 100,200"
        " (default: the one Parley sets)",
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (
        ConfigError,
        CommandError,
        PortInUseError,
        DashboardError,
        BackupError,
        StorageError,
        EmbeddedDatabaseError,
        SchemaError,
        MasterKeyMismatchError,
        EmbeddingModelMismatchError,
        EmbeddingError,
    ) as exc:
        print(f"parley: error: {exc}", file=sys.stderr)
        return 1
    except DatabaseUnavailableError:
        print("parley: error: the database is unreachable (check DATABASE_URL)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
