"""The ``rxlab`` command line: ``extract``, ``db upgrade``, ``vocab build``, ``cluster``.

``rxlab extract FILE...`` runs the pipeline in this process (no broker, no server) and prints one
rxlab.extraction/v1 document per file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.errors import RxlabError
from shared.settings import get_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rxlab`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        code: int = handler(args)
    except RxlabError as exc:
        print(json.dumps({"error": {"code": exc.code, "message": exc.message}}), file=sys.stderr)
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxlab", description=__doc__)
    sub = parser.add_subparsers()
    extract = sub.add_parser("extract", help="extract documents in-process and print rxlab.extraction/v1 JSON")
    extract.add_argument("files", nargs="+", type=Path)
    extract.add_argument("--format", choices=["json", "jsonl"], default="json")
    extract.add_argument("--document-type", choices=["auto", "prescription", "lab_report"], default="auto")
    extract.set_defaults(handler=_extract)
    db = sub.add_parser("db", help="database migrations").add_subparsers()
    db.add_parser("upgrade", help="apply the migrations to RXLAB_DATABASE_URL").set_defaults(handler=_db_upgrade)
    vocab = sub.add_parser("vocab", help="vocabulary index").add_subparsers()
    build = vocab.add_parser("build", help="build the vocabulary index from RxNorm and LOINC sources")
    build.add_argument(
        "--rxnorm", type=Path, help="RxNorm RRF folder or the dev JSON subset (default: VOCAB_DIR/rxnorm)"
    )
    build.add_argument("--loinc", type=Path, help="Loinc.csv or the dev CSV subset (default: VOCAB_DIR/loinc)")
    build.add_argument("--out", type=Path, help="index file (default: RXLAB_VOCAB_INDEX)")
    build.set_defaults(handler=_vocab_build)
    reconcile = sub.add_parser("reconcile", help="re-publish jobs whose stage stopped moving (lost messages)")
    reconcile.add_argument("--loop", action="store_true", help="run every --interval seconds until stopped")
    reconcile.add_argument("--interval", type=float, default=15.0)
    reconcile.add_argument("--lease", type=float, default=120.0, help="seconds a queued job may wait untouched")
    reconcile.add_argument(
        "--grace", type=float, default=30.0, help="seconds past a stage's hard time limit before a running job is lost"
    )
    reconcile.set_defaults(handler=_reconcile)
    jobs = sub.add_parser("jobs", help="operator actions on jobs").add_subparsers()
    listing = jobs.add_parser("list", help="list jobs by filters")
    _filter_arguments(listing)
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_jobs_list)
    requeue = jobs.add_parser("requeue", help="re-queue one job (JOB_ID) or every job matching the filters")
    requeue.add_argument("job_id", nargs="?")
    _filter_arguments(requeue)
    requeue.add_argument("--from-stage", choices=["detect", "ocr", "tag", "normalise"])
    requeue.add_argument("--pipeline-version")
    requeue.set_defaults(handler=_jobs_requeue)
    cancel = jobs.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("job_id")
    cancel.set_defaults(handler=_jobs_cancel)
    cluster = sub.add_parser("cluster", help="run the whole cluster on this machine (what `make run` does)")
    cluster.add_argument("--samples", type=Path, default=None, help="folder of sample documents to submit")
    cluster.add_argument("--no-wait", action="store_true", help="stop after the samples are processed")
    cluster.set_defaults(handler=_cluster)
    return parser


def _extract(args: argparse.Namespace) -> int:
    from services import inprocess
    from shared.logging import configure_logging
    from shared.runtime import page_limits

    settings = get_settings()
    configure_logging(service="cli", level="WARNING", json_lines=settings.log_json)
    limits = page_limits(settings)
    inprocess.warm_up()
    failures = 0
    for path in args.files:
        try:
            extraction = inprocess.extract(data=path.read_bytes(), limits=limits, document_type=args.document_type)
        except (OSError, RxlabError) as exc:
            failures += 1
            code = getattr(exc, "code", "unreadable_file")
            print(json.dumps({"file": str(path), "error": {"code": code, "message": str(exc)}}), file=sys.stderr)
            continue
        body = extraction.result.to_json_dict()
        print(json.dumps(body, indent=None if args.format == "jsonl" else 2))
    return 1 if failures else 0


def _db_upgrade(_: argparse.Namespace) -> int:
    from shared.db.migrate import upgrade

    upgrade(get_settings().database_url)
    return 0


def _vocab_build(args: argparse.Namespace) -> int:
    from services.normaliser.vocabulary import build_index

    settings = get_settings()
    version = build_index(
        rxnorm=args.rxnorm or settings.vocab_dir / "rxnorm",
        loinc=args.loinc or settings.vocab_dir / "loinc",
        out=args.out or settings.vocab_index,
    )
    print(version)
    return 0


def _filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", choices=["queued", "running", "done", "failed", "cancelled"])
    parser.add_argument("--stage", choices=["detect", "ocr", "tag", "normalise"])
    parser.add_argument("--error", help="error code")
    parser.add_argument("--patient-id")
    parser.add_argument("--since", type=datetime.fromisoformat, help="last change at or after (ISO 8601, UTC if naive)")
    parser.add_argument("--until", type=datetime.fromisoformat, help="last change before (ISO 8601)")


def _operator_handles() -> tuple[Any, Any]:
    from shared.celery_app import make_celery
    from shared.db.session import make_engine, make_session_factory

    return make_session_factory(make_engine(get_settings().database_url)), make_celery(name="rxlab-cli")


def _where(args: argparse.Namespace) -> Any:
    from shared.operations import JobFilter

    return JobFilter(
        state=args.state,
        stage=args.stage,
        error_code=args.error,
        patient_id=args.patient_id,
        since=args.since,
        until=args.until,
    )


def _reconcile(args: argparse.Namespace) -> int:
    import time

    from shared.logging import configure_logging
    from shared.reconciler import reconcile_once

    settings = get_settings()
    configure_logging(service="reconciler", level=settings.log_level, json_lines=settings.log_json)
    sessions, celery = _operator_handles()
    while True:
        report = reconcile_once(
            session_factory=sessions, celery=celery, settings=settings, queued_lease=args.lease, grace=args.grace
        )
        if not args.loop:
            print(json.dumps({"republished": report.republished, "recovered": report.recovered}))
            return 0
        time.sleep(args.interval)


def _jobs_list(args: argparse.Namespace) -> int:
    from shared.jobs import iso
    from shared.operations import list_jobs

    sessions, _ = _operator_handles()
    with sessions() as session:
        rows, _cursor = list_jobs(session, where=_where(args), limit=args.limit)
        for job in rows:
            print(
                f"{job.id}  {job.state:9} {job.stage or '-':9} attempts={job.attempts} "
                f"error={job.error_code or '-'} updated={iso(job.updated_at)}"
            )
    return 0


def _jobs_requeue(args: argparse.Namespace) -> int:
    from shared.operations import requeue_job, requeue_matching

    sessions, celery = _operator_handles()
    actor = f"cli:{_user()}"
    if args.job_id:
        job = requeue_job(
            session_factory=sessions, celery=celery, job_id=args.job_id, actor=actor,
            from_stage=args.from_stage, pipeline_version=args.pipeline_version,
        )  # fmt: skip
        print(f"{job.id} re-queued at {job.stage}")
        return 0
    ids = requeue_matching(
        session_factory=sessions, celery=celery, where=_where(args), actor=actor,
        from_stage=args.from_stage, pipeline_version=args.pipeline_version,
    )  # fmt: skip
    print(f"re-queued {len(ids)} jobs")
    return 0


def _jobs_cancel(args: argparse.Namespace) -> int:
    from shared.operations import cancel_job

    sessions, _ = _operator_handles()
    job = cancel_job(session_factory=sessions, job_id=args.job_id, actor=f"cli:{_user()}")
    print(f"{job.id} {job.state}")
    return 0


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _cluster(args: argparse.Namespace) -> int:
    from services.devcluster import run_cluster

    return run_cluster(samples=args.samples, wait=not args.no_wait)


if __name__ == "__main__":
    raise SystemExit(main())
