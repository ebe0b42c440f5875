"""Emails never leave the service: not in any public response, header, error, log line or metric; nor do raw IPs.

`email_forms` and `ip_forms` are the one list of the shapes an address can hide in; every scan uses them.
"""
from __future__ import annotations

import base64
import html
import io
import ipaddress
import json
import logging
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa

from comment_service import create_app
from comment_service.extensions import db
from comment_service.models import Comment
from comment_service.moderation import privacy
from comment_service.services import changes
from tests.conftest import ORIGIN, Ctx, auth, db_get, db_scalar, new_site, post, serving

EMAILS = ["Layla.Private@Example.org", "ليلى@مثال.مصر", "o'neil+tag@sub.example.com"]


def email_forms(email: str) -> set[str]:
    """Every way an email could hide in a response."""
    forms = set()
    for e in {email, email.lower(), email.upper(), email.casefold()}:
        local = e.split("@")[0]
        forms |= {
            e,
            local,
            json.dumps(e)[1:-1],  # \\u-escaped
            json.dumps(e, ensure_ascii=False)[1:-1],
            quote(e),
            quote_plus(e),
            html.escape(e),
            base64.b64encode(e.encode()).decode(),
            e.encode("idna").decode() if "@" not in e else e,
        }
    return {f for f in forms if len(f) >= 5}


def ip_forms(address: str) -> set[str]:
    """Every way a client's address could be written: as sent, compressed, exploded, IPv4-mapped."""
    ip = ipaddress.ip_address(address)
    forms = {address, str(ip), ip.exploded, quote(str(ip))}
    if ip.version == 4:
        forms |= {f"::ffff:{ip}", str(ip).replace(".", "-")}
    return forms


def _all_public_text(client, responses) -> str:
    text = []
    for r in responses:
        text.append(r.get_data(as_text=True))
        text.extend(f"{k}: {v}" for k, v in r.headers.items())
    return "\n".join(text)


def test_no_public_response_contains_a_submitted_email(client, site, caplog):
    caplog.set_level(logging.DEBUG)
    responses = []
    for i, email in enumerate(EMAILS):
        r = post(client, author_email=email, author_name=f"Reader {i}", body=f"comment {i}")
        assert r.status_code == 201
        responses.append(r)
        # failing submissions with the same email: errors must not echo it either
        responses.append(post(client, author_email=email, body=""))
        responses.append(post(client, author_email=email, author_url="nope"))
    responses.append(post(client, author_email="not an email " + EMAILS[0]))
    responses.append(client.get("/api/v1/sites/news/comments?thread=article-42"))
    responses.append(client.get("/api/v1/sites/news/counts?thread=article-42"))
    responses.append(client.get("/api/v1/openapi.json"))
    public = _all_public_text(client, responses)
    logs = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for email in EMAILS:
        for form in email_forms(email):
            assert form not in public, f"{form!r} leaked in a response"
            assert form not in logs, f"{form!r} leaked in a log line"


def test_database_errors_are_logged_without_parameters(app, client, site, caplog, monkeypatch):
    """A failing INSERT logs a traceback; the SQL parameters (email, body) must not be in it."""

    def fail_in_the_transaction(event):  # a statement with the email as its parameter, failing in the database
        db.session.execute(db.text("SELECT * FROM no_such_table WHERE x = :e"), {"e": EMAILS[0]})

    monkeypatch.setattr(changes, "_subscribers", [fail_in_the_transaction])
    caplog.set_level(logging.ERROR)
    r = post(client, author_email=EMAILS[0])
    assert r.status_code == 500
    assert db_scalar(sa.select(sa.func.count()).select_from(Comment)) == 0  # nothing was kept
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "no_such_table" in text  # the error itself is logged...
    assert EMAILS[0] not in text and EMAILS[0].lower() not in text  # ...without its parameters


def test_avatar_differs_between_sites_and_is_not_a_plain_hash(client, site, premod_site):
    import hashlib

    a = post(client, author_email=EMAILS[0]).get_json()["comment"]["author"]["avatar"]
    a2 = post(client, author_email=EMAILS[0].upper().replace("EXAMPLE.ORG", "example.org")).get_json()
    b = post(client, "careful", author_email=EMAILS[0]).get_json()["comment"]["author"]["avatar"]
    assert a == a2["comment"]["author"]["avatar"]  # stable for one person on one site (case-insensitive)
    assert a != b  # unlinkable across sites
    for h in (hashlib.md5, hashlib.sha256):
        digest = h(EMAILS[0].strip().lower().encode()).hexdigest()
        assert a not in digest


def test_ip_prefixes():
    assert privacy.ip_prefix("203.0.113.77") == "203.0.113.0/24"
    assert privacy.ip_prefix("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert privacy.ip_prefix("::ffff:198.51.100.4") == "198.51.100.0/24"
    assert privacy.ip_prefix("not an ip") is None
    assert privacy.ip_prefix(None) is None


def test_keyed_digests_depend_on_the_secret():
    k1, k2 = privacy.derive_key("s1", "email"), privacy.derive_key("s2", "email")
    assert privacy.keyed_digest(k1, "a@b.c") != privacy.keyed_digest(k2, "a@b.c")
    assert privacy.derive_key("s1", "email") != privacy.derive_key("s1", "ip")


def test_edit_token_is_stored_hashed(client, site):
    from comment_service.models import Comment

    body = post(client).get_json()
    stored = db_get(Comment, body["comment"]["id"])
    assert stored.edit_token_hash != body["edit_token"]
    assert privacy.tokens_match(body["edit_token"], stored.edit_token_hash)
    assert not privacy.tokens_match("guess", stored.edit_token_hash)


CLIENT_IPS = {"direct": "203.0.113.77", "forwarded": "198.51.100.23", "forwarded-v6": "2001:db8:abcd:12::77",
              "late": "192.0.2.201"}
MODERATOR_EMAIL = "Moderator.Private@Example.net"


def _client_from(app, environ: dict[str, str]):
    client = app.test_client()
    client.environ_base.update(environ)
    return client


@pytest.fixture
def observed_app():
    """The app as production runs it behind one proxy: JSON logs (every level), rate limits, metrics."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    app = create_app(test_config={
        "MAJLIS_LOG_FORMAT": "json", "MAJLIS_LOG_LEVEL": "DEBUG", "MAJLIS_TRUSTED_PROXIES": 1,
        "RATELIMIT_ENABLED": True, "MAJLIS_POST_RATE_LIMIT": "4 per minute", "MAJLIS_LOGIN_ACCOUNT_RATE_LIMIT": "2 per minute",
    })
    with serving(app):
        yield app
    root.handlers[:] = handlers
    root.setLevel(level)


def test_logs_and_metrics_hold_no_email_and_no_client_ip(observed_app, monkeypatch):
    """A realistic session: readers post (Latin, Arabic IDN and plus-tagged emails) from a direct address and
    through the proxy (IPv4, IPv6), make mistakes, hit the rate limit, send an email in a path; a moderator
    guesses a password until throttled, works the queue, bans an email, answers privacy requests; a bug
    quotes an email in its exception. Then every log line and a scrape are searched for every form of
    every email and every client address."""
    from comment_service import services
    from comment_service.models import ModeratorRole
    from comment_service.moderation.status import ModerationMode
    from comment_service.services.sites import issue_api_key
    from tests.dashboard.conftest import login, make_moderator

    app = observed_app
    ctx = Ctx(app)
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_majlis", False)]
    buf = io.StringIO()
    handler.setStream(buf)
    site = new_site("news", "The News", [ORIGIN], ModerationMode.PRE)
    key = ctx(issue_api_key, site)
    make_moderator(MODERATOR_EMAIL, site, ModeratorRole.ADMIN)
    readers = {
        "direct": _client_from(app, {"REMOTE_ADDR": CLIENT_IPS["direct"]}),
        "forwarded": _client_from(app, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": CLIENT_IPS["forwarded"]}),
        "forwarded-v6": _client_from(app, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": CLIENT_IPS["forwarded-v6"]}),
    }
    ids = []
    for name, reader in readers.items():
        for i, email in enumerate(EMAILS):
            r = post(reader, author_email=email, author_name=f"Reader {name} {i}")
            assert r.status_code == 201, r.get_json()
            ids.append(r.get_json()["comment"]["id"])
            assert post(reader, author_email=email, body="").status_code == 422
        assert post(reader, author_email="not an email " + EMAILS[0]).status_code == 422
        for _ in range(2):
            post(reader, author_email=EMAILS[1])
        assert post(reader, author_email=EMAILS[2]).status_code == 429  # flask-limiter logs the key: a digest of the address
        assert reader.get(f"/api/v1/sites/news/comments/{quote(EMAILS[0])}").status_code == 404
        assert reader.get(f"/api/v1/sites/news/privacy/{EMAILS[1]}").status_code == 404
        assert reader.get(f"/api/v1/sites/news/comments?thread=article-42&cursor={quote(EMAILS[2])}").status_code == 422
    # the moderator: wrong passwords until the per-account limit (keyed by the email) refuses, then the API
    mod_client = _client_from(app, {"REMOTE_ADDR": CLIENT_IPS["direct"]})
    statuses = [login(mod_client, MODERATOR_EMAIL, f"guess {i}").status_code for i in range(3)]
    assert statuses == [401, 401, 429]
    api = _client_from(app, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": CLIENT_IPS["forwarded"]})
    headers = auth(key, moderator="ليلى")
    assert api.get("/api/v1/sites/news/queues", headers=headers).status_code == 200
    assert api.post("/api/v1/sites/news/queues/pending/claim", json={"limit": 5}, headers=headers).status_code == 200
    assert api.post(f"/api/v1/sites/news/comments/{ids[0]}/decision", json={"action": "approve", "revision": 1},
                    headers=headers).status_code == 200
    assert api.post(f"/api/v1/sites/news/comments/{ids[1]}/decision", json={"action": "approve", "revision": 99},
                    headers=headers).status_code == 409
    assert api.post("/api/v1/sites/news/bans", json={"kind": "email", "value": EMAILS[2], "reject_existing": True},
                    headers=headers).status_code == 201
    assert api.post("/api/v1/sites/news/bans", json={"kind": "ip", "value": CLIENT_IPS["direct"]},
                    headers=headers).status_code == 201
    assert api.post("/api/v1/sites/news/privacy/export", json={"email": EMAILS[1]}, headers=headers).status_code == 200
    assert api.post("/api/v1/sites/news/privacy/erase", json={"email": EMAILS[1]}, headers=headers).status_code == 200
    # a bug that quotes what it was given
    def buggy_submit(site, data, ip):
        raise ValueError(f"cannot store comment by {data['author_email']} from {ip}")

    monkeypatch.setattr(services, "submit_comment", buggy_submit)
    late = _client_from(app, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": CLIENT_IPS["late"]})
    assert post(late, author_email=EMAILS[0]).status_code == 500
    scraped = app.test_client().get("/metrics").get_data(as_text=True)

    logs = buf.getvalue()
    lines = [json.loads(line) for line in logs.splitlines()]
    assert len(lines) > 60 and any(line["level"] == "ERROR" and "exc" in line for line in lines)
    assert any(line["logger"] == "flask-limiter" for line in lines)  # the lines that quote keys were written...
    assert "majlis_queue_pending" in scraped and "majlis_http_requests_total" in scraped
    for email in [*EMAILS, MODERATOR_EMAIL]:
        for form in email_forms(email):
            assert form not in logs, f"{form!r} in a log line"
            assert form not in scraped, f"{form!r} in the metrics"
    for address in CLIENT_IPS.values():
        for form in ip_forms(address):
            assert form not in logs, f"{form!r} in a log line"
            assert form not in scraped, f"{form!r} in the metrics"
    assert "[email]" in logs  # ...and redacted (an address in a path); the limiter's keys are digests now,
    assert "client:" in logs  # so its lines quote no address at all


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ratelimit 5 per 1 minute (203.0.113.77) exceeded", "ratelimit 5 per 1 minute ([ip]) exceeded"),
        ("ratelimit (login:o'neil+tag@sub.example.com) exceeded", "ratelimit (login:[email]) exceeded"),
        ("GET /privacy/ليلى@مثال.مصر 404", "GET /privacy/[email] 404"),
        ("by Layla.Private%40Example.org", "by [email]"),
        ("from 2001:db8:abcd:12::77 and ::ffff:198.51.100.4", "from [ip] and [ip]"),
        ("fe80::1%eth0 then 10.0.0.1.", "[ip] then [ip]."),
        # kept: times, versions, line numbers, ids, things that only look like addresses
        ("2025-01-01T12:00:00.123Z at 10:30:00", "2025-01-01T12:00:00.123Z at 10:30:00"),
        ('File "/srv/app.py", line 12, version 1.2.3, 999.1.1.1', 'File "/srv/app.py", line 12, version 1.2.3, 999.1.1.1'),
        ("GET /api/v1/sites/news/comments/12 404", "GET /api/v1/sites/news/comments/12 404"),
        ("a @ b, user@, @home", "a @ b, user@, @home"),
    ],
)
def test_redact_removes_emails_and_addresses_from_free_text(text, expected):
    assert privacy.redact(text) == expected
