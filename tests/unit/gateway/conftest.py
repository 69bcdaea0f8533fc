"""A gateway app per test, from the factory, over a real database and a real Redis broker (no workers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.gateway import create_app
from shared.settings import GatewaySettings


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(
        env="test",
        database_url=database_url,
        broker_url=redis_url,
        blob_root=tmp_path / "blobs",
        max_upload_bytes=2 * 1024 * 1024,
        max_page_pixels=30_000_000,
        max_pages=5,
    )


@pytest.fixture
def app(settings: GatewaySettings) -> Iterator[Flask]:
    app = create_app(settings, configure_logs=False)
    yield app
    app.extensions["rxlab"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
