"""Entry point for gunicorn and the flask CLI: `gunicorn --config deploy/gunicorn.conf.py` serves `wsgi:app`."""
from comment_service import create_app

app = create_app()
