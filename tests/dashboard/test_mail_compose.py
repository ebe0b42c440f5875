"""The moderators' emails (dashboard/mail.py): text and HTML, Arabic (right to left) or English by
g.lang, the comment as the dashboard shows it (spans marked, reasons in words) with every reader's
text escaped, the decision links to their confirmation pages, and never the author's address."""
from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import g

from comment_service.dashboard import mail
from comment_service.extensions import db
from comment_service.models import Comment, ModeratorSite, utcnow
from comment_service.moderation.roles import ModeratorRole
from comment_service.moderation.status import Action
from comment_service.services import action_links, moderators, notices
from comment_service.services.notices import Notice
from comment_service.services.sites import get_site
from tests.conftest import configure, post
from tests.dashboard.conftest import make_moderator

PUBLIC = "https://comments.example"
AUTHOR_EMAIL = "layla.private@example.org"
HOSTILE = 'Play <script>alert("x")</script> at the casino & <b>win</b> "now"'


@pytest.fixture
def app_config():
    return {"MAJLIS_PUBLIC_URL": PUBLIC, "MAJLIS_MAIL_FROM": "Majlis <alerts@majlis.example>"}


@pytest.fixture
def premod(ctx, site):
    configure(ctx, "news", {"mode": "pre", "suspect_words": ["casino", "كلب*"]})
    return site


@pytest.fixture
def bilal(premod):
    return make_moderator("bilal@example.org", premod, ModeratorRole.MODERATOR, "Bilal")


def held_comment(client, **fields) -> int:
    r = post(client, author_email=AUTHOR_EMAIL, **fields)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["comment"]["id"]


def compose(ctx, kind: str, moderator, comment_id: int | None = None, lang: str = "en"):
    """The notice's message as drawn by dashboard/mail.compose, and parsed back as a mail client would."""
    with ctx:
        g.lang = lang
        site = get_site("news")
        notice = Notice(41, kind, 1, site, moderators.get_moderator(moderator.id),
                        db.session.get(ModeratorSite, (moderator.id, site.id)),
                        db.session.get(Comment, comment_id) if comment_id else None)
        raw = mail.compose(notice).as_bytes()
    return raw, email.message_from_bytes(raw, policy=email.policy.default)


def parts(message) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def decision_links(text: str) -> dict[str, str]:
    """action label -> the link, from the text part's "Label: URL" lines."""
    return dict(re.findall(rf"^(.+?): ({re.escape(PUBLIC)}/dashboard/act/\S+)$", text, re.M))


def no_address_anywhere(raw: bytes, message) -> None:
    text, html = parts(message)
    for where in (raw.decode("ascii", "replace"), text, html, str(message["Subject"])):
        assert AUTHOR_EMAIL not in where and "layla.private" not in where


# --- a held comment --------------------------------------------------------------------------------

def test_a_held_comment_in_english_text_and_html(ctx, client, bilal):
    cid = held_comment(client, body="A fine casino tip.", thread_title="Budget 2026", author_name="Layla")
    raw, message = compose(ctx, "held", bilal, cid)
    assert message["From"] == "Majlis <alerts@majlis.example>" and message["To"] == "bilal@example.org"
    assert message["Message-ID"] == "<majlis.notice.41@majlis.example>" and message["Date"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(rf"<{re.escape(PUBLIC)}/dashboard/alerts/off/[\w.-]+>", message["List-Unsubscribe"])
    assert message["Subject"] == "[The News] A comment is waiting for your review"
    text, html = parts(message)
    assert "A fine casino tip." in text and "Budget 2026" in text and "Author: Layla" in text
    assert "- Suspect word: «casino» from the list matched «casino» (marked in the text)" in text
    assert f"Open the pending queue: {PUBLIC}/dashboard/sites/news/queues/pending" in text
    assert f"{PUBLIC}/dashboard/sites/news/comments/{cid}" in text
    assert message["List-Unsubscribe"][1:-1] in text  # the footer's unsubscribe line
    assert '<html lang="en" dir="ltr">' in html
    assert re.search(r'<mark style="background:[^"]+" data-reasons="\d+"[^>]*>casino</mark>', html), html
    assert "<style" not in html and "<strong>Suspect word</strong>" in html
    no_address_anywhere(raw, message)


def test_the_three_links_are_approve_reject_spam_for_this_moderator_comment_and_revision(ctx, client, bilal):
    cid = held_comment(client)
    _, message = compose(ctx, "held", bilal, cid)
    text, html = parts(message)
    found = decision_links(text)
    assert list(found) == ["Approve", "Reject", "Spam"]
    with ctx:
        site = get_site("news")
        for label, url in found.items():
            link = action_links.read_decision(urlsplit(url).path.rpartition("/")[2])
            assert (link.moderator_id, link.site_id, link.comment_id, link.revision) == (bilal.id, site.id, cid, 1)
            assert link.action is Action(label.lower())
            assert f'href="{url}" data-action="{link.action.value}"' in html  # the same link in the HTML part
    assert "nothing changes until you press its button" in text


def test_hostile_text_is_escaped_in_the_html_and_plain_in_the_text(ctx, client, bilal):
    cid = held_comment(client, body=HOSTILE, author_name="Mallory <img src=x>", thread_title="<i>Title</i> & co")
    raw, message = compose(ctx, "held", bilal, cid)
    text, html = parts(message)
    assert "<script" not in html and "<b>win" not in html and "<img" not in html and "<i>Title" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html or "&lt;script&gt;alert(&quot;x&quot;)" in html
    assert "&amp; co" in html
    assert HOSTILE in text  # the text part is plain text: shown as written, nothing to run
    no_address_anywhere(raw, message)


def test_a_held_comment_in_arabic_is_right_to_left(ctx, client, bilal):
    cid = held_comment(client, body="هذا الكلبُ مزعج", thread_title="مقال تجريبي", author_name="ليلى")
    raw, message = compose(ctx, "held", bilal, cid, lang="ar")
    assert message["Subject"] == "[The News] تعليق ينتظر مراجعتك"
    text, html = parts(message)
    assert '<html lang="ar" dir="rtl">' in html and 'dir="rtl"' in html.split("<body", 1)[1]
    assert "text-align:right" in html
    assert list(decision_links(text)) == ["قبول", "رفض", "مزعج"]
    assert "الكاتب: ليلى" in text and "المقال: مقال تجريبي" in text and "كلمة مشبوهة" in text
    assert "قرّر من هنا:" in html and "افتح قائمة المراجعة" in html
    assert re.search(r"<mark [^>]*>الكلبُ</mark>", html), html
    no_address_anywhere(raw, message)


# --- a reported comment ----------------------------------------------------------------------------

def test_a_reported_comment_shows_its_reports_and_links_to_the_dashboard(ctx, client, site):
    moderator = make_moderator("bilal@example.org", site, ModeratorRole.MODERATOR, "Bilal")
    configure(ctx, "news", {"report_threshold": 5})
    cid = held_comment(client, body="Published, then reported.")
    for n, (reason, note) in enumerate([("abuse", "<script>steal()</script> rude"), ("spam", None)]):
        r = client.post(f"/api/v1/sites/news/comments/{cid}/reports", json={"reason": reason, "note": note},
                        headers={"User-Agent": f"r{n}"}, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
        assert r.status_code in (201, 202), r.get_json()
    for lang, subject, count, abuse in [("en", "Readers reported a comment", "2 reader reports", "Abuse"),
                                        ("ar", "أبلغ القرّاء عن تعليق", "بلاغان من القرّاء", "إساءة")]:
        raw, message = compose(ctx, "reported", moderator, cid, lang=lang)
        assert message["Subject"] == f"[The News] {subject}"
        text, html = parts(message)
        assert "Published, then reported." in text and f"{count}:" in text and count in html
        assert f"- {abuse}: <script>steal()</script> rude (" in text  # the reader's note, as written
        assert "<script>steal" not in html and "&lt;script&gt;steal()&lt;/script&gt; rude" in html
        assert f"{PUBLIC}/dashboard/sites/news/comments/{cid}" in text
        assert f'href="{PUBLIC}/dashboard/sites/news/comments/{cid}"' in html
        assert f'href="{PUBLIC}/dashboard/sites/news/queues/reported"' in html
        assert "/dashboard/act/" not in text + html, "no decision links for a reported comment"
        no_address_anywhere(raw, message)


# --- a digest ----------------------------------------------------------------------------------------

def test_a_digest_lists_the_oldest_pending_comments_with_their_links(ctx, client, bilal, monkeypatch):
    ids = [held_comment(client, body=f"Waiting number {i} <b>x</b>") for i in range(3)]
    with ctx:
        notices.set_alerts(db.session.get(ModeratorSite, (bilal.id, get_site("news").id)), "digest", 30)
    raw, message = compose(ctx, "digest", bilal)
    assert message["Subject"] == "[The News] 3 comments are waiting for review"
    text, html = parts(message)
    for i, cid in enumerate(ids):
        assert f"Waiting number {i} <b>x</b>" in text and f"Waiting number {i} &lt;b&gt;x&lt;/b&gt;" in html
        assert f"{PUBLIC}/dashboard/sites/news/comments/{cid}" in text
        assert f'href="{PUBLIC}/dashboard/sites/news/comments/{cid}"' in html
    assert text.index("Waiting number 0") < text.index("Waiting number 2"), "oldest first"
    assert "chose a digest (time between two: 30 minutes)" in text
    no_address_anywhere(raw, message)

    monkeypatch.setattr(notices, "digest_comments", partial(notices.digest_comments, limit=2))
    _, message = compose(ctx, "digest", bilal, lang="ar")
    assert message["Subject"] == "[The News] 3 تعليقات تنتظر المراجعة"
    text, html = parts(message)
    assert "Waiting number 1" in text and "Waiting number 2" not in text
    assert "…وتعليق آخر في القائمة." in text and "…وتعليق آخر في القائمة." in html
    assert "(الفاصل بين ملخّصَين: 30 دقيقة)" in text


# --- the queue's time limit ------------------------------------------------------------------------

def test_a_breach_of_the_time_limit_says_the_limit_and_the_wait(ctx, client, bilal):
    configure(ctx, "news", {"sla_minutes": 30})
    held_comment(client)
    held_comment(client)
    with ctx:
        db.session.execute(sa.update(Comment).values(created_at=utcnow() - timedelta(minutes=45)))
        db.session.commit()
    raw, message = compose(ctx, "sla", bilal)
    assert message["Subject"] == "[The News] The pending queue is over its time limit"
    text, html = parts(message)
    assert "This site's time limit: 30 minutes." in text
    assert "Waiting time of the oldest pending comment: 45 minutes" in text
    assert "2 comments are waiting for review" in text
    assert f'href="{PUBLIC}/dashboard/sites/news/queues/pending"' in html
    no_address_anywhere(raw, message)
    _, message = compose(ctx, "sla", bilal, lang="ar")
    text, html = parts(message)
    assert "المهلة التي حدّدها هذا الموقع: 30 دقيقة." in text and "مدة انتظار أقدم تعليق: 45 دقيقة" in html
    assert "تعليقان ينتظران المراجعة" in text and '<html lang="ar" dir="rtl">' in html


def test_links_names_every_page_the_email_points_to(ctx, client, bilal):
    cid = held_comment(client)
    with ctx:
        site = get_site("news")
        notice = Notice(1, "held", 1, site, moderators.get_moderator(bilal.id),
                        db.session.get(ModeratorSite, (bilal.id, site.id)), db.session.get(Comment, cid))
        urls = mail.links(notice, PUBLIC)
        assert action_links.read_unsubscribe(urls["unsubscribe"].rpartition("/")[2]).moderator_id == bilal.id
    assert urls["dashboard"] == f"{PUBLIC}/dashboard/sites/news/queues/pending"
    assert urls["comment"] == f"{PUBLIC}/dashboard/sites/news/comments/{cid}"
    assert urls["account"] == f"{PUBLIC}/dashboard/account/alerts"
    assert {"approve", "reject", "spam"} <= set(urls)
