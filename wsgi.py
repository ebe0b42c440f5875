"""Entry point for gunicorn and the flask CLI: `gunicorn wsgi:app`."""
from comment_service import create_app

app = create_app()
