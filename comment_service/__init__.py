"""Majlis: a comment moderation service for news sites."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from comment_service.flask_app import MajlisFlask
from config import config_for


def create_app(test_config: dict[str, Any] | None = None, env: str | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, error handlers, commands."""
    app = MajlisFlask(__name__, instance_relative_config=True)
    app.config.from_object(config_for("testing" if test_config is not None and env is None else env))
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    register_observability(app)
    register_extensions(app)
    register_blueprints(app)
    register_security_headers(app)
    register_errorhandlers(app)
    register_commands(app)
    register_wsgi_layers(app)
    return app


def register_observability(app: Flask) -> None:
    """Logs, request ids and metrics first, so every other hook's answers are seen and carry an id."""
    from comment_service import observe

    observe.init_app(app)


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    from comment_service import database, jobs
    from comment_service.extensions import csrf, db, limiter, migrate
    from comment_service.read_cache import init_read_cache

    db.init_app(app)
    database.init_app(app)  # after db: closes the session first, and never raises doing it
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    limiter.init_app(app)
    csrf.init_app(app)
    init_read_cache(app)
    jobs.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Mount each surface: the API and the probes with their OpenAPI document, the widget, the dashboard."""
    from comment_service import api, dashboard, ops, widget
    from comment_service.contracts import Api
    from comment_service.converters import IdConverter, SlugConverter

    app.url_map.converters["slug"] = SlugConverter
    app.url_map.converters["int"] = IdConverter  # every <int:...> in a URL is a bounded id
    documented = Api(app)
    documented.register_blueprint(api.bp)
    documented.register_blueprint(ops.bp)
    app.register_blueprint(widget.bp)
    app.register_blueprint(dashboard.bp)


def register_security_headers(app: Flask) -> None:
    """Every answer's security headers, from one place (404s, 405s and errors included)."""
    from comment_service.security_headers import init_security_headers

    init_security_headers(app)


def register_errorhandlers(app: Flask) -> None:
    """One JSON error shape everywhere."""
    from comment_service import errors

    errors.register_errorhandlers(app)


def register_commands(app: Flask) -> None:
    """Operator commands: flask sites ..., flask demo."""
    from comment_service import cli

    cli.register(app)


def register_wsgi_layers(app: Flask) -> None:
    """Around Flask, innermost first: reads retried once when the database dropped them; the last
    resort for errors that escape Flask (JSON, or the dashboard's plain page); ProxyFix, trusting
    X-Forwarded-For only for the configured number of proxy hops (default: none)."""
    from comment_service.dashboard import last_resort_page
    from comment_service.database import RetryReads
    from comment_service.errors import LastResort

    wsgi = LastResort(RetryReads(app.wsgi_app), app, html={"/dashboard/": last_resort_page})
    hops = app.config["MAJLIS_TRUSTED_PROXIES"]
    if hops > 0:
        wsgi = ProxyFix(wsgi, x_for=hops, x_proto=hops, x_host=hops)
    app.wsgi_app = wsgi  # type: ignore[method-assign]
