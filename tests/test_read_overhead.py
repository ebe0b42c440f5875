"""The work the thread read no longer repeats per request answers exactly as before: the memo of
loaded queries, the session serializer built once per set of keys, ensure_sync remembered."""
from __future__ import annotations

from comment_service.api import comments
from comment_service.read_cache import read_cache
from tests.conftest import post

URL = "/api/v1/sites/news/comments?thread=article-42&limit=2"


def _answer(resp) -> tuple:
    headers = sorted((k, v) for k, v in resp.headers.items() if k != "X-Request-ID")
    return resp.status_code, headers, resp.get_data()


def test_a_remembered_query_answers_byte_for_byte_as_a_new_one(app, client, site):
    for i in range(3):
        post(client, body=f"comment {i}")
    comments._LIST_QUERIES.clear()
    first = client.get(URL, headers={"Origin": "https://news.example"})
    assert first.status_code == 200 and URL.split("?", 1)[1] in comments._LIST_QUERIES
    with app.app_context():
        read_cache().clear()  # the page is built again too: only the query's loading is remembered
    again = client.get(URL, headers={"Origin": "https://news.example"})
    assert _answer(again) == _answer(first)
    assert "Origin" in again.headers["Vary"] and again.headers["Access-Control-Allow-Origin"] == "https://news.example"


def test_invalid_queries_are_refused_every_time_and_not_remembered(client, site):
    comments._LIST_QUERIES.clear()
    for _ in range(2):
        resp = client.get("/api/v1/sites/news/comments?thread=article-42&limit=0")
        assert resp.status_code == 422 and resp.get_json()["error"]["fields"]["limit"]
    assert comments._LIST_QUERIES == {}


def test_the_thread_key_is_normalised_the_same_from_the_memo(client, site):
    post(client, body="hello")
    comments._LIST_QUERIES.clear()
    spaced = "/api/v1/sites/news/comments?thread=%20article-42%20"
    answers = [client.get(spaced).get_json() for _ in range(2)]
    assert answers[0] == answers[1] and answers[0]["thread"]["key"] == "article-42"


def test_the_signing_serializer_is_built_once_per_set_of_keys(app):
    interface = app.session_interface
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first
    app.secret_key = "another secret key of forty characters...."
    rotated = interface.get_signing_serializer(app)
    assert rotated is not first
    assert rotated.loads(rotated.dumps({"a": 1})) == {"a": 1}
    app.config["SECRET_KEY_FALLBACKS"] = ["an old key"]
    assert interface.get_signing_serializer(app) is not rotated


def test_ensure_sync_is_flasks_answer_remembered(app):
    def view() -> str:
        return "x"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view and view in app._sync
