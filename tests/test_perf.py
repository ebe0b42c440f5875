"""The write path's and the counts' speed-ups (issue 10, item 9; bench/README.md "Write path") stay
in, and change nothing a client sees: statements per request, the engine's tuning, the match view
and the word-list prefilter against their plain forms on seed data, caches that follow the
settings, the rate limiter's skipped pass.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from comment_service import create_app, services
from comment_service.extensions import db, limiter
from comment_service.moderation import text as text_module
from comment_service.moderation.status import ModerationMode
from comment_service.moderation.text import MatchView, _fold_char, fold
from comment_service.moderation.words import WordList
from tests.conftest import ORIGIN, TEST_DATABASE_URL, comment_payload, configure, post, serving, statements

ROOT = Path(__file__).resolve().parent.parent
ARABIC = [
    "أتفق مع الكاتب في أن المجالس البلدية تحتاج إلى رقابة أوضح على الميزانية.",
    "والكلب الذي رأيته كلبٌ كبير، وكلابهم في الحديقة؛ كلبه ينبح",
    "السياسات الجديدة وسياستهم القديمة وبالسياسة، ﷲ ﻻ ٣٤٥ ۴۵ آمنة ٱلرحمن مسـتشفى",
    "می‌خواهم کتاب یک", "👩‍💻 ❤️ Café naïve ﬁne ＡＢＣ ½ x\u200by", "حمار\u0640\u0640ٌ والحمار",
]
ENTRIES = (
    "check", "subscribe", "channel", "check out my", "please", "http", "free", "كلب*", "سياسة*", "حمار",
    "الكاتب", "ميزانية", "café", "ﬁne", "love*", "song", "ة*", "  ", "best part", "آمنة",
)


def _seed_texts() -> list[str]:
    """Comment bodies to compare on: the Arabic samples, the hostile markup list, and the
    YouTube spam collection of shared/data when it is beside the checkout."""
    texts = list(ARABIC)
    texts += (ROOT / "tests" / "data" / "xss_payloads.txt").read_text(encoding="utf-8").splitlines()
    for shared in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        folder = shared / "data" / "youtube-spam-collection"
        for path in sorted(folder.glob("*.csv")):
            with path.open(encoding="utf-8") as f:
                texts += [row["CONTENT"] for row in csv.DictReader(f)]
        if folder.is_dir():
            break
    return texts


TEXTS = _seed_texts()


def _plain_view(original: str) -> tuple[str, list[int], list[int]]:
    """The match view as it was built before it was made lazy: a character at a time."""
    chars, starts, ends = [], [], []
    for i, ch in enumerate(original):
        folded = _fold_char(ch)
        if not folded:
            if ends and ends[-1] == i:
                ends[-1] = i + 1
            continue
        for out in folded:
            chars.append(out)
            starts.append(i)
            ends.append(i + 1)
    return "".join(chars), starts, ends


def test_the_match_view_is_the_character_by_character_fold():
    for original in TEXTS:
        plain, starts, ends = _plain_view(original)
        view = MatchView(original)
        assert view.text == plain == fold(original)
        for i in range(len(plain)):
            assert view.original_span(i, i + 1) == (starts[i], ends[i])


def test_the_fold_table_stays_bounded(monkeypatch):
    monkeypatch.setattr(text_module, "_FOLD_TABLE_MAX", 0)
    monkeypatch.setattr(text_module, "_FOLDS", text_module._FoldTable())
    assert fold("ﷲ ٣") == "".join(_fold_char(c) for c in "ﷲ ٣") and len(text_module._FOLDS) == 0


def test_the_prefilter_never_changes_a_verdict():
    """On every seed text, for every entry alone and for the whole list: the same matches."""
    assert len(TEXTS) > 50
    lists = [(e,) for e in ENTRIES] + [ENTRIES]
    found_any = 0
    for entries in lists:
        filtered, plain = WordList(entries), WordList(entries, prefilter=False)
        for original in TEXTS:
            view = MatchView(original)
            got = filtered.find(view)
            assert got == plain.find(view), (entries, original)
            found_any += bool(got)
    assert found_any > 20  # the comparison saw matches, not only misses


def test_a_changed_word_list_applies_to_the_next_comment(ctx, client, site):
    """Compiled lists are cached by their entries: a new list is compiled, never a stale one used."""
    configure(ctx, "news", {"banned_words": ["apple"]})
    assert post(client, body="A pear (1).").get_json()["comment"]["status"] == "published"
    configure(ctx, "news", {"banned_words": ["pear"]})
    assert post(client, body="A pear (2).").get_json()["comment"]["status"] == "pending"  # rejected looks pending
    configure(ctx, "news", {"banned_words": []})
    assert post(client, body="A pear (3).").get_json()["comment"]["status"] == "published"


# --- statements per request ------------------------------------------------------------------

def test_a_held_comment_costs_four_statements_three_on_postgresql(app, client, ctx, site):
    """Site, author facts (with the thread), comment, audit row (held: the thread's count does not
    move); on PostgreSQL the comment and its audit row are one statement."""
    configure(ctx, "news", {"hold_first_time": True, "banned_words": ["x"], "suspect_words": ["y"]})
    assert post(client).status_code == 201
    with statements(app) as sent:
        r = client.post("/api/v1/sites/news/comments", json={
            "thread": "article-42", "author_name": "Omar", "author_email": "omar@example.org", "body": "Hello."},
            headers={"Origin": ORIGIN})
    assert r.status_code == 201 and r.get_json()["comment"]["status"] == "pending"
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    assert len(sent) == (3 if postgresql else 4), sent


def test_counts_cost_one_statement(app, client, site):
    for i in range(3):
        assert post(client, thread=f"t-{i}").status_code == 201
    url = "/api/v1/sites/news/counts?" + "&".join(f"thread=t-{i}" for i in range(20))
    with statements(app) as sent:
        r = client.get(url, headers={"Origin": ORIGIN})
    assert r.status_code == 200 and len(sent) == 1, sent
    assert r.get_json()["counts"] == {f"t-{i}": 1 if i < 3 else 0 for i in range(20)}
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN  # the origins came with the counts


def test_counts_of_an_unknown_site_are_404_whatever_the_query(client, site):
    assert client.get("/api/v1/sites/nosuch/counts?thread=a").status_code == 404
    assert client.get("/api/v1/sites/nosuch/counts?thread=" + "x" * 5000).status_code == 404
    assert client.get("/api/v1/sites/news/counts?thread=" + "x" * 5000).status_code == 422


# --- the engine ------------------------------------------------------------------------------

def test_pre_ping_only_where_a_connection_can_die_idle(app):
    with app.app_context():
        assert db.engine.pool._pre_ping is (db.engine.dialect.name != "sqlite")


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite files only")
def test_sqlite_files_are_in_wal_mode(tmp_path):
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        db.engine.dispose()


# --- the rate limiter ------------------------------------------------------------------------

@pytest.fixture
def limited_app() -> Any:
    with serving(create_app(test_config={"RATELIMIT_ENABLED": True, "MAJLIS_POST_RATE_LIMIT": "2 per minute"})) as app:
        with app.app_context():
            services.create_site("news", "The News", [ORIGIN], ModerationMode.POST)
        yield app


def _passes(monkeypatch) -> list[str]:
    """The before_request passes Flask-Limiter really made (not skipped)."""
    made: list[str] = []
    parent = type(limiter).__mro__[1]
    original = parent._check_request_limit

    def spy(self, callable_name=None, in_middleware=True):
        made.append("middleware" if in_middleware else str(callable_name))
        return original(self, callable_name, in_middleware)

    monkeypatch.setattr(parent, "_check_request_limit", spy)
    return made


def test_the_pass_before_views_is_skipped_and_the_limit_still_holds(limited_app, monkeypatch):
    # The limiter is the process's, and Flask-Limiter keeps the default limits an earlier test's
    # app configured (RATELIMIT_DEFAULT): as this app configures none, start from none.
    for name in ("_default_limits", "_application_limits", "_blueprint_limits"):
        monkeypatch.setattr(limiter.limit_manager, name, type(getattr(limiter.limit_manager, name))())
    monkeypatch.setattr(limiter, "_meta_limits", [])
    made = _passes(monkeypatch)
    client = limited_app.test_client()
    assert [post(client).status_code for _ in range(3)] == [201, 201, 429]
    assert client.get("/api/v1/sites/news/counts?thread=article-42").status_code == 200
    # The view's own check, once per post; the pass is skipped also once Flask-Limiter holds a
    # hint for the view (flask-smorest's wrapper is not the function it decorated).
    assert "middleware" not in made and len(made) == 3
    assert post(client).status_code == 429 and "middleware" not in made


@pytest.mark.parametrize("where", ["default", "application", "meta", "blueprint", "store down"])
def test_the_pass_runs_whenever_it_could_find_a_limit(limited_app, monkeypatch, where):
    made = _passes(monkeypatch)
    manager = limiter.limit_manager
    if where == "default":
        monkeypatch.setattr(manager, "_default_limits", ["something"])
    elif where == "application":
        monkeypatch.setattr(manager, "_application_limits", ["something"])
    elif where == "meta":
        monkeypatch.setattr(limiter, "_meta_limits", ["something"])
    elif where == "blueprint":
        monkeypatch.setattr(manager, "_blueprint_limits", {"api": ["something"]})
    else:
        monkeypatch.setattr(limiter, "_storage_dead", True)
    with limited_app.test_request_context("/api/v1/sites/news/counts"):
        assert limiter._limits_before_views() or where == "store down"
    parent = type(limiter).__mro__[1]
    monkeypatch.setattr(parent, "_Limiter__filter_limits", lambda *a, **k: [])
    monkeypatch.setattr(parent, "_Limiter__evaluate_limits", lambda *a, **k: None)
    limited_app.test_client().get("/api/v1/sites/news/counts?thread=a")
    assert made == ["middleware"]


def test_the_client_key_is_the_requests_own(limited_app):
    """Cached per request: two addresses never share a limit, one address always does."""
    client = limited_app.test_client()

    def from_(address: str) -> int:
        return client.post("/api/v1/sites/news/comments", json=comment_payload(),
                           environ_base={"REMOTE_ADDR": address}).status_code

    first = [from_("203.0.113.1") for _ in range(2)]
    other, again = from_("203.0.113.2"), from_("203.0.113.1")
    assert first == [201, 201] and other == 201 and again == 429
