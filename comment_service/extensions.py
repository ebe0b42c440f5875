"""Flask extensions, created unbound and initialised in create_app()."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from comment_service.ratelimit import Limiter, client_key

# Named constraints, so Alembic migrations can refer to them on every back end.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class _LazyMigrateConfig:
    """`app.extensions["migrate"]` until something reads it: then Flask-Migrate's own, built on the spot."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load

    def __getattr__(self, name: str) -> Any:
        return getattr(self._load(), name)


class _LazyGroup(click.Group):
    """A command group that imports its commands when it is first run or listed (`flask db ...`)."""

    def __init__(self, name: str, load: Callable[[], click.Group], help: str) -> None:
        super().__init__(name, help=help)
        self._load = load

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._load().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load().get_command(ctx, cmd_name)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        return self._load().make_context(info_name, args, parent, **extra)


class Migrations:
    """Flask-Migrate, imported only when used: by `flask db ...`, or by a caller of its functions
    (`flask_migrate.upgrade()`), which read `app.extensions["migrate"]`. It brings in Alembic, Mako
    and Pygments (about 10 MB and 200 modules per process) that a process serving requests never uses.
    """

    def init_app(self, app: Flask, db: SQLAlchemy, directory: str) -> None:
        loaded: list[Any] = []

        def load() -> Any:
            if not loaded:
                from flask_migrate import Migrate  # replaces app.extensions["migrate"] and the `db` group

                Migrate(app, db, directory=directory)
                loaded.append(app.extensions["migrate"])
            return loaded[0]

        def group() -> click.Group:
            load()
            from flask_migrate.cli import db as db_group

            return db_group

        app.extensions["migrate"] = _LazyMigrateConfig(load)
        app.cli.add_command(_LazyGroup("db", group, help="Perform database migrations."))


db = SQLAlchemy(model_class=Base)
migrate = Migrations()
# Per-client limits count a keyed digest of the client's address (ratelimit.client_key). A store
# failure never fails a request: see comment_service/ratelimit.py.
limiter = Limiter(key_func=client_key, default_limits=[])
# CSRF tokens for the dashboard's forms and fetch calls; checked by the dashboard blueprint only
# (WTF_CSRF_CHECK_DEFAULT is off), so the JSON API and the widget are untouched.
csrf = CSRFProtect()
