"""Request ids, JSON log lines and GET /metrics, as an operator sees them (in-process; tests/test_metrics_gunicorn.py
runs them under a real gunicorn with two workers)."""
from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from comment_service import create_app, services
from comment_service.extensions import db
from comment_service.metrics import record_rate_limit_store_failure
from comment_service.models import Comment, utcnow
from comment_service.moderation.status import ModerationMode
from comment_service.services.queues import queue_counts
from config.settings import DevelopmentConfig, ProductionConfig
from tests.conftest import ORIGIN, comment_payload, db_run, new_site, post, statements

HEX_ID = re.compile(r"[0-9a-f]{32}")
JSON_LOGS = {"MAJLIS_LOG_FORMAT": "json"}


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    """An app configured for JSON or text puts a handler on the root logger: take it off after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def capture_lines(app) -> io.StringIO:
    """Point the app's log handler at a buffer; the returned buffer collects its lines."""
    buf = io.StringIO()
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_majlis", False)]
    handler.setStream(buf)
    return buf


def json_lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A scrape as {(sample name, sorted labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(client, **headers) -> dict:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.content_type.startswith("text/plain; version=")
    return samples(r.get_data(as_text=True))


def requests_total(scraped: dict, endpoint: str, method: str, status: int) -> float:
    return scraped.get(
        ("majlis_http_requests_total", (("endpoint", endpoint), ("method", method), ("status", str(status)))), 0.0
    )


# --- request ids ---------------------------------------------------------------------------------------


def _boom(*_a, **_k):
    raise RuntimeError("injected failure")


# (id, how to send the request, expected status); every kind of answer must carry the id.
ANSWERS = [
    pytest.param(lambda c: c.get("/healthz"), 200, id="200"),
    pytest.param(lambda c: post(c), 201, id="201"),
    pytest.param(lambda c: post(c, body=""), 422, id="422"),
    pytest.param(lambda c: c.post("/api/v1/sites/news/comments", data="{", content_type="application/json"), 400, id="400"),
    pytest.param(lambda c: c.post("/api/v1/sites/news/comments", data="x", content_type="text/plain"), 415, id="415"),
    pytest.param(lambda c: post(c, body="x" * 70_000), 413, id="413"),
    pytest.param(lambda c: c.get("/api/v1/sites/nowhere/counts?thread=a"), 404, id="404-site"),
    pytest.param(lambda c: c.get("/no/such/page"), 404, id="404-route"),
    pytest.param(lambda c: c.delete("/healthz"), 405, id="405"),
    pytest.param(lambda c: c.options("/api/v1/sites/news/comments", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"}), 204, id="preflight"),
    pytest.param(lambda c: c.get("/dashboard/login"), 200, id="dashboard-html"),
    pytest.param(lambda c: c.get("/api/v1/sites/news/queues"), 401, id="401"),
    pytest.param("500", 500, id="500"),
]


@pytest.mark.parametrize("app_config", [JSON_LOGS])
@pytest.mark.parametrize(("send", "status"), ANSWERS)
def test_every_answer_carries_the_request_id_and_its_log_lines_do_too(app, client, site, monkeypatch, send, status):
    buf = capture_lines(app)
    if send == "500":
        monkeypatch.setattr(services, "submit_comment", _boom)
        send = lambda c: post(c)  # noqa: E731
    r = send(client)  # no id sent: one is made
    assert r.status_code == status
    made = r.headers["X-Request-ID"]
    assert HEX_ID.fullmatch(made)
    lines = json_lines(buf)
    assert lines and all(line["request_id"] == made for line in lines), lines
    assert lines[-1]["logger"] == "comment_service.access" and lines[-1]["status"] == status

    buf.truncate(0), buf.seek(0)
    client.environ_base["HTTP_X_REQUEST_ID"] = "from-the-proxy.42"  # a good id sent: it is kept
    r = send(client)
    assert r.status_code == status and r.headers["X-Request-ID"] == "from-the-proxy.42"
    assert {line["request_id"] for line in json_lines(buf)} == {"from-the-proxy.42"}


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "MAJLIS_POST_RATE_LIMIT": "1 per minute", **JSON_LOGS}])
def test_a_rate_limited_answer_carries_the_request_id(app, client, site):
    buf = capture_lines(app)
    assert post(client).status_code == 201
    r = client.post("/api/v1/sites/news/comments", json=comment_payload(), headers={"X-Request-ID": "retry-7"})
    assert r.status_code == 429 and r.headers["X-Request-ID"] == "retry-7"
    limited = [line for line in json_lines(buf) if line["request_id"] == "retry-7"]
    assert [line["logger"] for line in limited] == ["flask-limiter", "comment_service.access"]
    assert limited[-1]["status"] == 429


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc", True),
        ("Req_1.2-3", True),
        ("a" * 128, True),
        ("0123456789abcdef0123456789abcdef", True),
        ("", False),
        ("a" * 129, False),
        ("has space", False),
        ("semi;colon", False),
        ("ünïcode", False),
        ("line\r\nInjected: 1", False),
        ("a@b.example", False),
    ],
)
def test_an_incoming_request_id_is_kept_only_when_it_is_a_safe_token(client, sent, kept):
    try:
        r = client.get("/healthz", headers={"X-Request-ID": sent})
    except ValueError:  # the test client itself refuses a header with a newline: nothing to check
        assert not kept
        return
    returned = r.headers["X-Request-ID"]
    if kept:
        assert returned == sent
    else:
        assert returned != sent and HEX_ID.fullmatch(returned)


def test_each_request_gets_its_own_id(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


# --- log lines -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [JSON_LOGS])
def test_json_access_line_names_the_request_without_its_query(app, client, site):
    buf = capture_lines(app)
    r = client.get("/api/v1/sites/news/comments?thread=secret-thread-key&limit=5", headers={"X-Request-ID": "r-1"})
    assert r.status_code == 200
    (line,) = json_lines(buf)
    assert set(line) == {"ts", "level", "logger", "message", "pid", "request_id", "method", "path", "endpoint",
                         "status", "duration_ms"}
    assert line["level"] == "INFO" and line["logger"] == "comment_service.access"
    assert line["request_id"] == "r-1" and line["method"] == "GET" and line["status"] == 200
    assert line["path"] == "/api/v1/sites/news/comments" and line["endpoint"] == "api.list_comments"
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 10_000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert "secret-thread-key" not in buf.getvalue()


@pytest.mark.parametrize("app_config", [JSON_LOGS])
def test_an_unexpected_error_is_one_json_line_with_its_traceback(app, client, site, monkeypatch):
    buf = capture_lines(app)
    monkeypatch.setattr(services, "submit_comment", _boom)
    r = client.post("/api/v1/sites/news/comments", json=comment_payload(), headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 500 and r.get_json()["error"]["code"] == "internal_error"
    assert all(line.startswith("{") for line in buf.getvalue().splitlines())  # the traceback is inside a line
    error, access = json_lines(buf)
    assert error["level"] == "ERROR" and error["logger"] == "comment_service.errors"
    assert error["request_id"] == "boom-1" and error["endpoint"] == "api.create_comment"
    assert error["exc"].startswith("Traceback") and "RuntimeError: injected failure" in error["exc"]
    assert access["status"] == 500 and access["request_id"] == "boom-1"


@pytest.mark.parametrize("app_config", [{"MAJLIS_LOG_FORMAT": "text"}])
def test_text_lines_carry_the_request_id_and_leave_access_lines_to_gunicorn(app, client, monkeypatch):
    buf = capture_lines(app)
    assert client.get("/healthz", headers={"X-Request-ID": "t-1"}).status_code == 200
    assert buf.getvalue() == ""  # no access line in text mode
    monkeypatch.setattr("comment_service.ops.db.session.execute", _boom)
    client.get("/readyz", headers={"X-Request-ID": "t-2"})
    assert re.search(r"WARNING comment_service\.ops \[t-2\] readiness check", buf.getvalue())


def test_production_logs_json_and_development_text():
    prod = ProductionConfig({"SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://x/y"})
    assert prod.MAJLIS_LOG_FORMAT == "json" and prod.MAJLIS_METRICS_PUBLIC is False
    dev = DevelopmentConfig({"SECRET_KEY": "k", "DATABASE_URL": "sqlite://"})
    assert dev.MAJLIS_LOG_FORMAT == "text" and dev.MAJLIS_METRICS_PUBLIC is True
    with pytest.raises(RuntimeError, match="MAJLIS_LOG_FORMAT"):
        DevelopmentConfig({"SECRET_KEY": "k", "DATABASE_URL": "sqlite://", "MAJLIS_LOG_FORMAT": "xml"})


def test_a_second_app_replaces_the_first_ones_handler():
    """Whatever an earlier test left on the root logger: one handler of ours after two apps, and
    nobody else's removed."""
    def ours(h: logging.Handler) -> bool:
        return getattr(h, "_majlis", False)

    others = [h for h in logging.getLogger().handlers if not ours(h)]
    create_app(test_config=JSON_LOGS)
    create_app(test_config=JSON_LOGS)
    handlers = logging.getLogger().handlers
    assert len([h for h in handlers if ours(h)]) == 1
    assert [h for h in handlers if not ours(h)] == others


# --- metrics -------------------------------------------------------------------------------------------


def test_requests_are_counted_by_endpoint_method_and_status(client, site):
    before = scrape(client)
    for _ in range(3):
        assert post(client).status_code == 201
    assert post(client, body="").status_code == 422
    client.get("/no/such/page")
    client.delete("/healthz")
    client.open("/healthz", method="BREW")
    after = scrape(client)

    def delta(*key):
        return requests_total(after, *key) - requests_total(before, *key)

    assert delta("api.create_comment", "POST", 201) == 3
    assert delta("api.create_comment", "POST", 422) == 1
    assert delta("none", "GET", 404) == 1  # no route: one bounded label, whatever the path
    assert delta("none", "DELETE", 405) == 1
    assert delta("none", "other", 405) == 1  # an invented method does not become a label
    count = ("majlis_http_request_duration_seconds_count", (("endpoint", "api.create_comment"), ("status", "201")))
    assert after[count] - before.get(count, 0) == 3
    total = ("majlis_http_request_duration_seconds_sum", (("endpoint", "api.create_comment"), ("status", "201")))
    assert after[total] > before.get(total, 0)


def test_labels_stay_bounded_whatever_clients_send(app, client, site):
    before = {k for k in scrape(client) if k[0] == "majlis_http_requests_total"}
    for i in range(50):
        client.get(f"/random/{i}/path?x={i}")
        client.open(f"/healthz?{i}", method=f"M{i}")
    text = client.get("/metrics").get_data(as_text=True)
    assert "random" not in text and "M7" not in text
    new = [dict(k[1]) for k in samples(text) if k[0] == "majlis_http_requests_total" and k not in before]
    # 100 odd requests made at most three new series (the counters are the process's, other tests' included)
    assert len(new) <= 3
    assert {(lab["endpoint"], lab["method"]) for lab in new} <= {("none", "GET"), ("none", "other"), ("ops.metrics", "GET")}


def _backdate(comment_id: int, minutes: int) -> None:
    db_run(sa.update(Comment).where(Comment.id == comment_id)
                       .values(created_at=utcnow() - timedelta(minutes=minutes)))


def test_queue_depth_and_oldest_pending_age_per_site(ctx, client, site, premod_site):
    new_site("empty", "Empty", [ORIGIN], ModerationMode.PRE)
    ids = [post(client, "careful").get_json()["comment"]["id"] for _ in range(3)]
    post(client, "news")  # published: not pending
    _backdate(ids[0], 90)
    scraped = scrape(client)
    expected = ctx(queue_counts, premod_site, utcnow())
    assert scraped[("majlis_queue_pending", (("site", "careful"),))] == expected.counts["pending"] == 3
    age = scraped[("majlis_queue_oldest_pending_age_seconds", (("site", "careful"),))]
    assert abs(age - expected.oldest_pending_age_seconds) <= 1 and 90 * 60 - 5 <= age <= 90 * 60 + 5
    for slug in ("news", "empty"):
        assert scraped[("majlis_queue_pending", (("site", slug),))] == 0
        assert scraped[("majlis_queue_oldest_pending_age_seconds", (("site", slug),))] == 0


def test_the_scrape_costs_two_statements_whatever_the_number_of_sites(ctx, app, client):
    """One for every site's queue, one for the outbox's backlog and the webhook deliveries."""
    for i in range(20):
        new_site(f"site-{i}", f"Site {i}", [ORIGIN], ModerationMode.PRE)
    with statements(app) as sent:
        client.get("/metrics")
    assert len(sent) == 2, sent


def test_database_errors_are_counted_by_kind(ctx, client):
    before = scrape(client)
    with ctx, pytest.raises(sa.exc.DBAPIError) as caught:
        db.session.execute(sa.text("SELECT * FROM no_such_table"))
    kind = type(caught.value).__name__  # OperationalError on SQLite, ProgrammingError on PostgreSQL
    after = scrape(client)
    key = ("majlis_database_errors_total", (("kind", kind),))
    assert after[key] - before.get(key, 0) == 1


def test_a_database_that_does_not_answer_leaves_the_queues_out_but_the_scrape_up():
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    client = app.test_client()
    before = samples(client.get("/metrics").get_data(as_text=True))
    assert client.get("/readyz").status_code == 503
    r = client.get("/metrics")
    assert r.status_code == 200
    after = samples(r.get_data(as_text=True))
    assert not any(k[0].startswith("majlis_queue_") for k in after)
    errors = lambda s: sum(v for k, v in s.items() if k[0] == "majlis_database_errors_total")  # noqa: E731
    assert errors(after) - errors(before) >= 2  # the readiness check's and the scrape's own attempts
    assert requests_total(after, "ops.readyz", "GET", 503) - requests_total(before, "ops.readyz", "GET", 503) == 1


def test_rate_limit_store_failures_are_counted(client):
    key = ("majlis_rate_limit_store_failures_total", ())
    before = scrape(client)[key]
    record_rate_limit_store_failure()
    record_rate_limit_store_failure()
    assert scrape(client)[key] - before == 2


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_DEFAULT": "2 per minute"}])
def test_metrics_are_never_rate_limited(client):
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 429]  # the default limit is on
    assert {client.get("/metrics").status_code for _ in range(10)} == {200}


def test_metrics_are_not_in_the_public_api_document(client):
    assert "/metrics" not in client.get("/api/v1/openapi.json").get_json()["paths"]


@pytest.mark.parametrize("app_config", [{"MAJLIS_METRICS_TOKEN": "s3cret-metrics-token"}])
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", "Bearer s3cret-metrics-token-and-more", "Basic s3cret-metrics-token",
     "s3cret-metrics-token", "Bearer s3cret-metrics-tokeñ"],
)
def test_with_a_token_metrics_need_it(client, authorization):
    r = client.get("/metrics", headers={"Authorization": authorization} if authorization is not None else {})
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "majlis_" not in r.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"MAJLIS_METRICS_TOKEN": "s3cret-metrics-token"}])
def test_the_right_token_reads_the_metrics(client):
    scrape(client, Authorization="Bearer s3cret-metrics-token")
    scrape(client, Authorization="bearer s3cret-metrics-token")


@pytest.mark.parametrize(
    ("extra", "status"),
    [({}, 404), ({"MAJLIS_METRICS_PUBLIC": "true"}, 200), ({"MAJLIS_METRICS_TOKEN": "tok-123"}, 401)],
)
def test_production_hides_metrics_unless_a_token_or_an_explicit_opt_in(monkeypatch, tmp_path, extra, status):
    for name, value in {"SECRET_KEY": "p" * 40, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", **extra}.items():
        monkeypatch.setenv(name, value)
    app = create_app(env="production")
    with app.app_context():
        db.create_all()
    r = app.test_client().get("/metrics")
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("application/json" if status != 200 else "text/plain")
    if "MAJLIS_METRICS_TOKEN" in extra:
        ok = app.test_client().get("/metrics", headers={"Authorization": "Bearer tok-123"})
        assert ok.status_code == 200 and "majlis_http_requests_total" in ok.get_data(as_text=True)
