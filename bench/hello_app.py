"""Flask hello world: the same-run baseline that bench/read_thread.py compares the thread read with."""
from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> dict[str, str]:
    """A small JSON answer, the least a Flask view can do."""
    return {"hello": "world"}
