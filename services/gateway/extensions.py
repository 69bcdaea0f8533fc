"""The gateway's extensions: database sessions, blob store, Celery client (to send tasks by name only)."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.celery_app import make_celery
from shared.db.session import make_engine, make_session_factory
from shared.pages import PageLimits
from shared.runtime import page_limits
from shared.settings import GatewaySettings
from shared.storage import BlobStore, make_blob_store


@dataclass(frozen=True)
class Extensions:
    settings: GatewaySettings
    engine: Engine
    session_factory: sessionmaker[Session]
    blob_store: BlobStore
    celery: Celery
    limits: PageLimits


def init_extensions(app: Flask, settings: GatewaySettings) -> None:
    """Create the gateway's handles (lazy: the database and broker are contacted on first use)."""
    engine = make_engine(settings.database_url)
    app.extensions["rxlab"] = Extensions(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        blob_store=make_blob_store(settings.blob_root),
        celery=make_celery(name="rxlab-gateway", settings_factory=lambda: settings),
        limits=page_limits(settings),
    )


def ext() -> Extensions:
    """The current app's extensions."""
    value: Extensions = current_app.extensions["rxlab"]
    return value
