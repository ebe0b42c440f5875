"""X-Majlis-Moderator carries UTF-8 or percent-encoded UTF-8 (issue 9, item 8).

WSGI servers hand header bytes to the app decoded as Latin-1, so the app read ل (D9 84) as "Ù" and
a C1 control (a 400 for most Arabic names) and stored other names as mojibake. The real-server
tests send the raw UTF-8 bytes over a socket to werkzeug's server and to gunicorn.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from werkzeug.serving import make_server

from comment_service import create_app, services
from comment_service.extensions import db
from comment_service.moderation.status import ModerationMode
from comment_service.services.sites import issue_api_key
from tests.conftest import auth, comment_payload, post
from tests.netfaults import free_port

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1/sites/careful"
# Most Arabic names hold one of ل م ن و ه ي, whose second UTF-8 byte is a C1 control in Latin-1.
NAMES = ["محمد", "ليلى", "نور", "هيثم", "ولاء", "يمنى", "ﻣﺤﻤﺪ", "عبد الله", "José", "王小明", "Amal", "زهره‌سادات"]


def _wsgi(name: str) -> str:
    """The header value as a WSGI server hands it over: the UTF-8 bytes decoded as Latin-1."""
    return name.encode("utf-8").decode("latin-1")


@pytest.fixture
def held(client, premod_site):
    return [post(client, "careful", body=f"held {i}").get_json()["comment"]["id"] for i in range(3)]


@pytest.fixture
def careful_key(ctx, premod_site):
    return ctx(issue_api_key, premod_site)


def _latin1(name: str) -> bool:
    try:
        name.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


# "text": a value no Latin-1 byte string gives (a test client's), read as the text it is; for "José"
# that form would be the Latin-1 bytes of a client that did not send UTF-8, which is refused below.
CASES = [(name, form) for name in NAMES for form in ("utf-8 bytes", "percent-encoded", "text")
         if form != "text" or name.isascii() or not _latin1(name)]


@pytest.mark.parametrize("name,form", CASES)
def test_names_are_stored_and_shown_as_written(client, careful_key, held, name, form):
    sent = {"utf-8 bytes": _wsgi(name), "percent-encoded": quote(name), "text": name}[form]
    r = client.post(f"{API}/queues/pending/claim", json={"limit": 1}, headers=auth(careful_key, sent))
    assert r.status_code == 200, r.get_json()
    item = r.get_json()["items"][0]
    assert item["claim"]["by"] == f"key:{careful_key[:12]}/{name}"
    r = client.post(f"{API}/comments/{item['id']}/decision", json={"action": "approve", "revision": item["revision"]},
                    headers=auth(careful_key, sent))
    assert r.status_code == 200, r.get_json()
    history = client.get(f"{API}/comments/{item['id']}/history", headers=auth(careful_key)).get_json()["history"]
    assert history[-1]["actor"] == f"key:{careful_key[:12]}/{name}"


@pytest.mark.parametrize("sent,why", [
    ("", "empty: the document says minLength 1"),
    ("   ", "blank"),
    (_wsgi("\u200b\u3164"), "blank once invisible characters are removed"),
    ("x" * 65, "over 64 characters"),
    ("ل" * 65, "over 64 letters"),
    ("Jos\xe9", "Latin-1 bytes, not UTF-8"),
    ("%E9", "percent-encoded, not UTF-8"),
    (_wsgi("Ali\u202egnp"), "a bidi override"),
    ("amal\x7f", "a control character"),
])
def test_bad_names_are_400_invalid_moderator(client, careful_key, held, sent, why):
    r = client.post(f"{API}/queues/pending/claim", json={}, headers=auth(careful_key) | {"X-Majlis-Moderator": sent})
    assert r.status_code == 400, why
    assert r.get_json()["error"]["code"] == "invalid_moderator", why
    assert client.get(f"{API}/queues/pending", headers=auth(careful_key)).get_json()["items"][0]["claim"] is None


@pytest.mark.parametrize("sent,name", [("100%", "100%"), ("50%41", "50A"), ("a%25b", "a%b"), ("Amal%20B", "Amal B")])
def test_the_percent_rule(client, careful_key, held, sent, name):
    r = client.post(f"{API}/queues/pending/claim", json={"limit": 1}, headers=auth(careful_key, sent))
    assert r.get_json()["items"][0]["claim"]["by"].endswith("/" + name)


def test_the_document_describes_the_header(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    claim = doc["paths"]["/api/v1/sites/{site}/queues/{queue}/claim"]["post"]
    header = next(p for p in claim["parameters"] if p["name"] == "X-Majlis-Moderator")
    assert header["schema"]["minLength"] == 1 and "percent-encoded UTF-8" in header["description"]


# --- over real sockets ----------------------------------------------------------------------------


def _seed(uri: str) -> tuple[str, list[int]]:
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        db.create_all()
        site = services.create_site("careful", "Careful", ["https://news.example"], ModerationMode.PRE)
        key = issue_api_key(site)
        client = app.test_client()
        ids = [client.post(f"{API}/comments", json=comment_payload(body=f"held {i}")).get_json()["comment"]["id"]
               for i in range(len(NAMES))]
        db.session.remove()
        db.engine.dispose()
    return key, ids


def _claim_over_http(port: int, key: str, raw_name: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"limit": 1}).encode()
    conn.putrequest("POST", f"{API}/queues/pending/claim")
    for header, value in [("Authorization", f"Bearer {key}".encode()), ("Content-Type", b"application/json"),
                          ("Content-Length", str(len(body)).encode()), ("X-Majlis-Moderator", raw_name)]:
        conn.putheader(header, value)  # bytes go on the wire as they are
    conn.endheaders(body)
    r = conn.getresponse()
    data = json.loads(r.read())
    conn.close()
    return r.status, data


def _check_names(port: int, key: str) -> None:
    for name in NAMES:
        status, data = _claim_over_http(port, key, name.encode("utf-8"))
        assert status == 200, (name, data)
        assert data["items"][0]["claim"]["by"] == f"key:{key[:12]}/{name}"
    status, data = _claim_over_http(port, key, b"Jos\xe9")
    assert status == 400 and data["error"]["code"] == "invalid_moderator"


def test_utf8_names_over_werkzeugs_server(tmp_path):
    uri = f"sqlite:///{tmp_path / 'majlis.db'}"
    key, _ = _seed(uri)
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": uri})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _check_names(server.server_port, key)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_utf8_names_over_gunicorn(tmp_path):
    uri = f"sqlite:///{tmp_path / 'majlis.db'}"
    key, _ = _seed(uri)
    port = free_port()
    env = {**os.environ, "MAJLIS_ENV": "production", "SECRET_KEY": "x" * 40, "DATABASE_URL": uri}
    env.pop("TEST_DATABASE_URL", None)
    with (tmp_path / "gunicorn.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.1)
        _check_names(port, key)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
