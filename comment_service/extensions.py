"""Flask extensions, created unbound and initialised in create_app()."""
from __future__ import annotations

from flask_migrate import Migrate
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


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
# Per-client limits count a keyed digest of the client's address (ratelimit.client_key). A store
# failure never fails a request: see comment_service/ratelimit.py.
limiter = Limiter(key_func=client_key, default_limits=[])
# CSRF tokens for the dashboard's forms and fetch calls; checked by the dashboard blueprint only
# (WTF_CSRF_CHECK_DEFAULT is off), so the JSON API and the widget are untouched.
csrf = CSRFProtect()
