"""What a worker forked from a master that loaded the app (gunicorn's `preload_app`) does first.

The master loads the app and never serves it: nothing in `create_app` connects to the database,
so there is no connection to share. Should one ever be made there (a start-up check, say), each
worker still must not use it: two processes on one socket mix up their statements and answers.
`forget_inherited_connections` empties the engines' pools in the worker without closing what is
in them (closing would end the master's session on the server too); the worker then opens its own.
"""
from __future__ import annotations

from flask import Flask


def forget_inherited_connections(app: Flask) -> None:
    """Drop, unclosed, every pooled connection this process inherited across fork (SQLAlchemy's
    recipe: `engine.dispose(close=False)`)."""
    from comment_service.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
