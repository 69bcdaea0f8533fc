"""WSGI entry point for gunicorn: ``gunicorn --config services/gateway/gunicorn_conf.py services.gateway.wsgi:app``."""

from __future__ import annotations

from services.gateway.app import create_app

app = create_app()
