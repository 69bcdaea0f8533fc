"""The operations page at ``/ops``: where every job is, the queues, the last hour, and the operator actions.

Server-rendered (Jinja, inline SVG charts, a few lines of vanilla JavaScript for confirmations; no build step,
no external assets). The forms post back to this blueprint, which calls the same functions as the JSON API
(:mod:`shared.operations`), so an action taken here is validated and audited exactly as
``POST /v1/jobs/...`` is. Every form carries a per-session CSRF token; the actor is the ``X-Rxlab-Actor``
header when a proxy sets it, otherwise the operator name typed on the page, recorded as ``ops:<name>``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from kombu.exceptions import OperationalError as BrokerError
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.gateway.api.operations import JobFilterBody
from services.gateway.extensions import ext
from services.gateway.monitoring import (
    STAGE_NAMES,
    STATES,
    as_utc,
    broker_url_of,
    count_jobs,
    dead_letters,
    queue_depths,
    recent_activity,
)
from services.gateway.ops.charts import failure_chart, latency_chart
from shared.db.models import Job, utcnow
from shared.errors import RxlabError, ValidationError, problems_of
from shared.jobs import FAILED, QUEUED, RUNNING
from shared.operations import REQUEUEABLE, JobFilter, cancel_job, list_jobs, requeue_job, requeue_matching

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__, url_prefix="/ops", template_folder="templates", static_folder="static")

PAGE_SIZE = 50
BULK_LIMIT = 1000  # jobs one bulk re-queue takes at most (the API's default)
ANY = "any"
CSRF_FIELD = "csrf_token"
ACTOR_HEADER = "X-Rxlab-Actor"
_CSRF_KEY = "ops.csrf"
_OPERATOR_KEY = "ops.operator"
# A bulk re-queue takes finished, failed and cancelled jobs (see shared.operations.requeue_matching).
BULK_STATES = tuple(sorted(REQUEUEABLE - {QUEUED}))


class CsrfError(Exception):
    """A form post without this session's CSRF token."""


@dataclass(frozen=True)
class PageFilter:
    """The job filter as the page shows it; the state is ``failed`` unless the request chooses one."""

    state: str = FAILED
    stage: str = ""
    error: str = ""
    patient_id: str = ""

    @classmethod
    def read(cls, values: Mapping[str, str]) -> PageFilter:
        """The filter fields of a query string or a form (absent fields keep their defaults)."""
        return cls(**{f.name: values[f.name].strip()[:128] for f in fields(cls) if f.name in values})

    def as_query(self) -> dict[str, Any]:
        """The non-empty fields (strings), for links and hidden form inputs."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def to_filter(self) -> JobFilter:
        """The filter validated as ``GET /v1/jobs`` validates its query; raises ValidationError."""
        body = {name: value for name, value in self.as_query().items() if value != ANY}
        try:
            return JobFilterBody.model_validate(body).to_filter()
        except PydanticValidationError as exc:
            problems = problems_of(exc)
            raise ValidationError(f"invalid filter: {problems}", code="invalid_fields") from None


@dataclass(frozen=True)
class Listing:
    jobs: list[Job]
    cursor: str | None
    next_cursor: str | None
    problem: str | None = None


@bp.record_once
def _session_cookie(state: BlueprintSetupState) -> None:
    # The CSRF token lives in the session cookie; Lax keeps the cookie off cross-site posts as well.
    if state.app.config.get("SESSION_COOKIE_SAMESITE") is None:
        state.app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "operator": session.get(_OPERATOR_KEY, ""),
        "states": STATES,
        "stages": STAGE_NAMES,
        "any": ANY,
        "utc": _utc_text,
    }


def _utc_text(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S")


@bp.errorhandler(CsrfError)
def _csrf_failed(_: CsrfError) -> ResponseReturnValue:
    message = "The form was not sent from this page, or your session expired. Reload the page and try again."
    return render_template("ops/error.html", title="Form rejected", message=message), 403


@bp.get("")
def index() -> ResponseReturnValue:
    """The page: counts, queues, the last hour and the filtered job list."""
    page_filter = PageFilter.read(request.args)
    extensions = ext()
    now = utcnow()
    with extensions.session_factory() as db:
        counts = count_jobs(db)
        dead = dead_letters(db)
        activity = recent_activity(db, now=now)
        listing = _listing(db, page_filter, request.args.get("cursor") or None)
    depths = queue_depths(broker_url_of(extensions.celery.conf.broker_url))
    return render_template(
        "ops/index.html",
        now=now,
        counts=counts,
        depths=depths,
        activity=activity,
        charts=(failure_chart(activity), latency_chart(activity)),
        listing=listing,
        filter=page_filter,
        error_codes=sorted({code for _, code in dead if code}),
        running=RUNNING,
        cancellable=(QUEUED, RUNNING),
    )


def _listing(db: Session, page_filter: PageFilter, cursor: str | None) -> Listing:
    try:
        jobs, following = list_jobs(db, where=page_filter.to_filter(), limit=PAGE_SIZE, cursor=cursor)
    except ValidationError as exc:
        return Listing(jobs=[], cursor=cursor, next_cursor=None, problem=f"{exc.code}: {exc.message}")
    return Listing(jobs=jobs, cursor=cursor, next_cursor=following)


@bp.post("/jobs/<job_id>/requeue")
def requeue_one(job_id: str) -> ResponseReturnValue:
    """Re-queue one job (from the stage it failed at, or ``from_stage``)."""
    _check_csrf()
    extensions = ext()
    try:
        job = requeue_job(
            session_factory=extensions.session_factory,
            celery=extensions.celery,
            job_id=job_id,
            actor=_actor(),
            from_stage=request.form.get("from_stage") or None,
        )
    except RxlabError as exc:
        flash(f"Job {job_id} was not re-queued: {exc.code}: {exc.message}", "error")
    except BrokerError:
        flash(_BROKER_DOWN.format(what=f"Job {job_id} was re-queued"), "error")
    else:
        flash(f"Job {job.id} re-queued at {job.stage}.", "ok")
    return _back()


@bp.post("/jobs/<job_id>/cancel")
def cancel(job_id: str) -> ResponseReturnValue:
    """Cancel a queued or running job."""
    _check_csrf()
    try:
        job = cancel_job(session_factory=ext().session_factory, job_id=job_id, actor=_actor())
    except RxlabError as exc:
        flash(f"Job {job_id} was not cancelled: {exc.code}: {exc.message}", "error")
    else:
        flash(f"Job {job.id} cancelled.", "ok")
    return _back()


@bp.get("/requeue")
def confirm_bulk() -> ResponseReturnValue:
    """The confirmation step of a bulk re-queue: how many jobs the current filter would re-queue."""
    page_filter = PageFilter.read(request.args)
    try:
        where = page_filter.to_filter()
    except ValidationError as exc:
        flash(f"{exc.code}: {exc.message}", "error")
        return redirect(url_for("ops.index", **page_filter.as_query()), code=303)
    with ext().session_factory() as db:
        by_state = requeueable_counts(db, where)
    total = sum(by_state.values())
    return render_template(
        "ops/confirm.html",
        filter=page_filter,
        by_state=by_state,
        total=total,
        taken=min(total, BULK_LIMIT),
        limit=BULK_LIMIT,
    )


@bp.post("/requeue")
def requeue_bulk() -> ResponseReturnValue:
    """Re-queue every job matching the posted filter (at most :data:`BULK_LIMIT`)."""
    _check_csrf()
    extensions = ext()
    try:
        ids = requeue_matching(
            session_factory=extensions.session_factory,
            celery=extensions.celery,
            where=PageFilter.read(request.form).to_filter(),
            actor=_actor(),
            from_stage=request.form.get("from_stage") or None,
            limit=BULK_LIMIT,
        )
    except RxlabError as exc:
        flash(f"Nothing was re-queued: {exc.code}: {exc.message}", "error")
    except BrokerError:
        flash(_BROKER_DOWN.format(what="The jobs were re-queued"), "error")
    else:
        flash(f"Re-queued {len(ids)} job{'' if len(ids) == 1 else 's'}.", "ok")
    return _back()


_BROKER_DOWN = "{what} in the database, but the broker is unreachable: the reconciler will publish it."


def requeueable_counts(db: Session, where: JobFilter) -> dict[str, int]:
    """Per state, the jobs matching ``where`` that a bulk re-queue would take."""
    matching = where.apply(select(Job).where(Job.state.in_(BULK_STATES)))
    query = matching.with_only_columns(Job.state, func.count()).group_by(Job.state)
    return {state: int(count) for state, count in db.execute(query)}


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return token


def _check_csrf() -> None:
    expected = session.get(_CSRF_KEY)
    sent = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), sent.encode()):
        log.warning("ops form post without a valid CSRF token refused")
        raise CsrfError


def _actor() -> str:
    """Who acts: the proxy's actor header when set, else the operator name from the form (remembered)."""
    name = request.form.get("actor", "").strip()[:100]
    if name:
        session[_OPERATOR_KEY] = name
    who = g.actor if request.headers.get(ACTOR_HEADER) else (name or g.actor)
    return f"ops:{who}"[:128]


def _back() -> ResponseReturnValue:
    return redirect(url_for("ops.index", **PageFilter.read(request.form).as_query()), code=303)
