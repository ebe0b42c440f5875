"""The one way in for every change to a comment (services/changes.py), checked by what it leaves behind.

Every actor and every transition, reached through the surface that makes it (the API, the dashboard,
the services a ban or a privacy request runs): exactly one audit row, saying who, from what, to what
and why; one event for subscribers, whose id is that row's and whose fields are its columns; the
revision one more; the thread's version moved when, and only when, readers see a difference, and its
count by the visibility delta; the claim gone after a decision; the reports resolved where the
transition answers them. A refused change (a stale revision, someone else's lease, a transition that
does not apply, a race lost in the UPDATE) leaves all of that as it was, and no event.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from comment_service.models import Claim, Comment, ModerationAction, Report, Thread, utcnow
from comment_service.moderation.audit import Actor, AuditReason
from comment_service.moderation.rules import ReasonCode
from comment_service.moderation.status import (
    RESOLVING,
    TRANSITIONS,
    Action,
    Queue,
    RejectReason,
    Status,
    applicable,
    is_visible,
    queue_actions,
)
from comment_service.services import changes
from comment_service.services.changes import CommentChanged
from tests.conftest import auth, configure, db_add, db_get, db_rows, db_run, db_scalar, post
from tests.dashboard.conftest import csrf, login, make_moderator

API = "/api/v1/sites/news"
AMAL = "amal"  # the moderator behind the API key in these tests (X-Majlis-Moderator)


@pytest.fixture
def events() -> Iterator[list[CommentChanged]]:
    """Every event the entry point hands its subscribers during the test."""
    got: list[CommentChanged] = []
    with changes.subscribed(got.append):
        yield got


@pytest.fixture
def news(ctx, site, key) -> str:
    """The post-moderated site "news": "hold" is a suspect word (held), "casino" a banned one (rejected)."""
    configure(ctx, "news", {"suspect_words": ["hold"], "banned_words": ["casino"]})
    return key


def _state(cid: int) -> dict[str, Any]:
    """What a change may touch, as stored."""
    c = db_get(Comment, cid)
    thread = db_get(Thread, c.thread_id)
    return {
        "status": c.status, "revision": c.revision, "open_reports": c.open_reports,
        "audit": db_scalar(sa.select(sa.func.count()).select_from(ModerationAction)
                           .where(ModerationAction.comment_id == cid)),
        "version": thread.version, "count": thread.comment_count,
        "claim": db_scalar(sa.select(Claim.claimed_by).where(Claim.comment_id == cid)),
        "unresolved": db_scalar(sa.select(sa.func.count()).select_from(Report)
                                .where(Report.comment_id == cid, Report.resolved.is_(False))),
    }


def _before(cid: int, events: list[CommentChanged]) -> dict[str, Any]:
    """The state before the change under test; the events of getting there are forgotten."""
    events.clear()
    return _state(cid)


def _last_row(cid: int) -> ModerationAction:
    return db_scalar(sa.select(ModerationAction).where(ModerationAction.comment_id == cid)
                     .order_by(ModerationAction.id.desc()).limit(1))


def _assert_one_change(cid: int, before: dict[str, Any], events: list[CommentChanged], *, actor: Actor,
                       to: Status, reason: AuditReason | None, text_changed: bool = False,
                       decided: bool, resolved: bool) -> dict[str, Any]:
    """The invariants of one change made to comment `cid` (see the module's docstring)."""
    after = _state(cid)
    was = before["status"]
    assert after["audit"] == before["audit"] + 1, "exactly one audit row"
    assert after["status"] is to and after["revision"] == before["revision"] + 1
    row = _last_row(cid)
    assert (row.actor_type, row.from_status, row.to_status, row.reason_code) == (actor, was, to, reason)
    delta = int(is_visible(to)) - int(is_visible(was))
    seen = delta != 0 or (text_changed and (is_visible(was) or is_visible(to)))
    assert after["version"] == before["version"] + int(seen), "the version moves iff readers see a difference"
    assert after["count"] == before["count"] + delta
    if decided:
        assert after["claim"] is None, "a decision ends the claim"
    else:
        assert after["claim"] == before["claim"]
    if resolved:
        assert after["unresolved"] == 0 and after["open_reports"] == 0
    else:
        assert (after["unresolved"], after["open_reports"]) == (before["unresolved"], before["open_reports"])
    (event,) = [e for e in events if e.comment_id == cid]  # delivered once
    assert event.id == row.id
    assert (event.site_id, event.revision, event.actor, event.actor_id, event.from_status, event.to_status,
            event.reason, event.note, event.at) == (row.site_id, row.revision, row.actor_type, row.actor_id,
                                                    row.from_status, row.to_status, row.reason_code, row.note,
                                                    row.created_at)
    return after


def _assert_unchanged(cid: int, before: dict[str, Any], events: list[CommentChanged]) -> None:
    assert _state(cid) == before
    assert [e for e in events if e.comment_id == cid] == []


def _decide(client, key, cid: int, action: Action, revision: int, moderator: str = AMAL):
    body = {"action": action.value, "revision": revision}
    if action is Action.REJECT:
        body["reason"] = RejectReason.OFF_TOPIC.value
    return client.post(f"{API}/comments/{cid}/decision", json=body, headers=auth(key, moderator))


_threads = itertools.count(1)


def _in_status(client, key, status: Status) -> int:
    """A comment of "news" in `status`, reached the way the service gets there, in a thread of its own
    (so one thread's version says what happened to one comment)."""
    thread = f"thread-{next(_threads)}"
    if status is Status.PENDING:
        return post(client, thread=thread, body="please hold this").get_json()["comment"]["id"]
    cid = post(client, thread=thread).get_json()["comment"]["id"]
    step = {Status.APPROVED: Action.APPROVE, Status.REJECTED: Action.REJECT, Status.SPAM: Action.SPAM,
            Status.DELETED: Action.DELETE}.get(status)
    if step is not None:
        assert _decide(client, key, cid, step, 1).status_code == 200
    return cid


def _held_and_reported(cid: int, moderator: str) -> None:
    """The moderator holds a lease on the comment, and it has an open reader report."""
    c = db_get(Comment, cid)
    db_add(Claim(comment_id=cid, site_id=c.site_id, claimed_by=moderator, expires_at=utcnow() + timedelta(minutes=5)),
           Report(site_id=c.site_id, comment_id=cid, reason="abuse", fingerprint=f"f{cid}"))
    db_run(sa.update(Comment).where(Comment.id == cid).values(open_reports=1))


DECISIONS = [(start, action) for action, (sources, _) in TRANSITIONS.items() for start in Status if start in sources]


@pytest.mark.parametrize(("start", "action"), DECISIONS, ids=[f"{a.value}-from-{s.value}" for s, a in DECISIONS])
def test_a_moderators_decision(client, news, events, start, action):
    cid = _in_status(client, news, start)
    _held_and_reported(cid, f"key:{news[:12]}/{AMAL}")
    before = _before(cid, events)
    r = _decide(client, news, cid, action, before["revision"])
    assert r.status_code == 200, r.get_json()
    previous = Status.PUBLISHED  # every comment here was published before any delete
    to = TRANSITIONS[action][1] or previous
    after = _assert_one_change(cid, before, events, actor=Actor.MODERATOR, to=to,
                               reason=AuditReason.OFF_TOPIC if action is Action.REJECT else None,
                               decided=True, resolved=action in RESOLVING)
    answer = r.get_json()["comment"]  # the answer is the stored state, read from nothing after the commit
    assert (answer["status"], answer["revision"], answer["open_reports"], answer["claim"]) == (
        to.value, after["revision"], after["open_reports"], None)
    assert answer == client.get(f"{API}/comments/{cid}", headers=auth(news)).get_json()


@pytest.mark.parametrize("refusal", ["stale_revision", "claimed_by_other", "invalid_transition", "lost_race"])
def test_a_refused_decision_changes_nothing(client, news, events, monkeypatch, refusal):
    cid = _in_status(client, news, Status.PUBLISHED)
    _held_and_reported(cid, "key:someone/else" if refusal == "claimed_by_other" else f"key:{news[:12]}/{AMAL}")
    before = _before(cid, events)
    action, revision = Action.REJECT, before["revision"]
    if refusal == "stale_revision":  # what the moderator saw is not what is stored
        revision = before["revision"] + 1
    if refusal == "invalid_transition":
        action = Action.NOT_SPAM
    if refusal == "lost_race":  # another change commits between the moderator's read and the UPDATE
        from comment_service.extensions import db
        from comment_service.services import queues

        real = queues.moderator_item

        def read_then_someone_else_writes(site, comment_id):
            item = real(site, comment_id)
            with db.engine.begin() as conn:
                conn.execute(sa.update(Comment).where(Comment.id == comment_id).values(revision=Comment.revision + 1))
            return item

        monkeypatch.setattr(queues, "moderator_item", read_then_someone_else_writes)
    r = _decide(client, news, cid, action, revision)
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == ("stale_revision" if refusal == "lost_race" else refusal)
    if refusal == "lost_race":
        before["revision"] += 1  # the other writer's change, and nothing of ours
    _assert_unchanged(cid, before, events)


def test_the_dashboard_and_the_api_make_the_same_change(app, client, site, news, events):
    via_api = _in_status(client, news, Status.PENDING)
    via_dashboard = _in_status(client, news, Status.PENDING)
    admin = make_moderator("amal@example.org", site)
    browser = app.test_client()
    login(browser, admin.email)
    before = _before(via_dashboard, events)
    assert _decide(client, news, via_api, Action.REJECT, 1).status_code == 200
    r = browser.post(f"/dashboard/sites/news/comments/{via_dashboard}/decision",
                     data={"action": "reject", "reason": "off_topic", "revision": "1",
                           "csrf_token": csrf(browser, "/dashboard/sites/news/queues/pending")},
                     headers={"Accept": "application/json"})
    assert r.status_code == 200 and "error" not in r.get_json()
    _assert_one_change(via_dashboard, before, events, actor=Actor.MODERATOR, to=Status.REJECTED,
                       reason=AuditReason.OFF_TOPIC, decided=True, resolved=True)
    api_row, dashboard_row = _last_row(via_api), _last_row(via_dashboard)
    columns = ("actor_type", "from_status", "to_status", "reason_code", "note", "revision")
    assert [getattr(api_row, c) for c in columns] == [getattr(dashboard_row, c) for c in columns]
    assert (api_row.actor_id, dashboard_row.actor_id) == (f"key:{news[:12]}/{AMAL}", f"mod:{admin.id}")


def test_bulk_decisions_are_one_change_each(client, news, events):
    ids = [_in_status(client, news, Status.PENDING) for _ in range(3)]
    before = {cid: _state(cid) for cid in ids}
    events.clear()
    r = client.post(f"{API}/decisions", headers=auth(news, AMAL), json={"decisions": [
        {"id": ids[0], "action": "approve", "revision": 1}, {"id": ids[1], "action": "spam", "revision": 1},
        {"id": ids[2], "action": "approve", "revision": 7},
    ]})
    assert [x["ok"] for x in r.get_json()["results"]] == [True, True, False]
    _assert_one_change(ids[0], before[ids[0]], events, actor=Actor.MODERATOR, to=Status.APPROVED, reason=None,
                       decided=True, resolved=True)
    _assert_one_change(ids[1], before[ids[1]], events, actor=Actor.MODERATOR, to=Status.SPAM, reason=None,
                       decided=True, resolved=True)
    _assert_unchanged(ids[2], before[ids[2]], events)


def test_dismissing_reports_is_a_change_without_a_new_status(client, news, events):
    cid = _in_status(client, news, Status.PUBLISHED)
    _held_and_reported(cid, f"key:{news[:12]}/{AMAL}")
    before = _before(cid, events)
    stale = client.post(f"{API}/comments/{cid}/reports/dismiss", json={"revision": 9}, headers=auth(news, AMAL))
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale_revision"
    _assert_unchanged(cid, before, events)
    r = client.post(f"{API}/comments/{cid}/reports/dismiss", json={"revision": before["revision"], "note": "fine"},
                    headers=auth(news, AMAL))
    assert r.status_code == 200
    _assert_one_change(cid, before, events, actor=Actor.MODERATOR, to=Status.PUBLISHED,
                       reason=AuditReason.REPORTS_DISMISSED, decided=False, resolved=True)
    assert _last_row(cid).note == "fine" and r.get_json()["comment"]["revision"] == before["revision"] + 1


@pytest.mark.parametrize(("body", "company", "status", "reason"), [
    ("Fine words", None, Status.PUBLISHED, None),
    ("please hold this", None, Status.PENDING, AuditReason.SUSPECT_WORD),
    ("casino tonight", None, Status.REJECTED, AuditReason.BANNED_WORD),
    ("Fine words", "ACME", Status.SPAM, AuditReason.HONEYPOT),
])
def test_a_submission_is_the_first_change(client, news, events, body, company, status, reason):
    post(client, body="the thread exists")
    thread = db_scalar(sa.select(Thread))
    r = post(client, body=body, **({"company": company} if company else {}))
    cid = r.get_json()["comment"]["id"]
    row = _last_row(cid)
    assert db_scalar(sa.select(sa.func.count()).select_from(ModerationAction)
                     .where(ModerationAction.comment_id == cid)) == 1
    assert (row.actor_type, row.from_status, row.to_status, row.reason_code, row.revision) == (
        Actor.RULE, None, status, reason, 1)
    after = db_get(Thread, thread.id)
    assert (after.version - thread.version, after.comment_count - thread.comment_count) == (
        (1, 1) if is_visible(status) else (0, 0))
    (event,) = [e for e in events if e.comment_id == cid]
    assert (event.id, event.from_status, event.to_status, event.actor) == (row.id, None, status, Actor.RULE)


@pytest.mark.parametrize(("start", "text", "to", "reason"), [
    (Status.PUBLISHED, "Other fine words", Status.PUBLISHED, AuditReason.EDITED),
    (Status.PUBLISHED, "now hold it", Status.PENDING, AuditReason.SUSPECT_WORD),
    (Status.PENDING, "fixed words", Status.PUBLISHED, AuditReason.EDITED),
    (Status.PENDING, "still hold", Status.PENDING, AuditReason.SUSPECT_WORD),
    (Status.APPROVED, "casino", Status.REJECTED, AuditReason.BANNED_WORD),
])
def test_an_authors_edit(client, news, events, start, text, to, reason):
    created = post(client, body="please hold this" if start is Status.PENDING else "Fine words").get_json()
    cid, token = created["comment"]["id"], created["edit_token"]
    if start is Status.APPROVED:
        assert _decide(client, news, cid, Action.APPROVE, 1).status_code == 200
    before = _before(cid, events)
    r = client.patch(f"{API}/comments/{cid}", json={"body": text}, headers={"X-Edit-Token": token})
    assert r.status_code == 200
    _assert_one_change(cid, before, events, actor=Actor.AUTHOR, to=to, reason=reason, text_changed=True,
                       decided=False, resolved=False)
    assert _last_row(cid).revision == before["revision"] + 1  # an edit's row names the revision it wrote


def test_an_authors_delete(client, news, events):
    created = post(client).get_json()
    cid = created["comment"]["id"]
    _held_and_reported(cid, f"key:{news[:12]}/{AMAL}")
    before = _before(cid, events)
    assert client.delete(f"{API}/comments/{cid}", headers={"X-Edit-Token": created["edit_token"]}).status_code == 204
    _assert_one_change(cid, before, events, actor=Actor.AUTHOR, to=Status.DELETED, reason=AuditReason.AUTHOR_DELETED,
                       decided=True, resolved=True)


def test_reports_hiding_a_comment(client, news, events):
    cid = _in_status(client, news, Status.PUBLISHED)
    for reader in ("one", "two"):
        client.post(f"{API}/comments/{cid}/reports", json={"reason": "abuse"}, headers={"User-Agent": reader})
    before = _before(cid, events)
    client.post(f"{API}/comments/{cid}/reports", json={"reason": "abuse"}, headers={"User-Agent": "three"})
    before = {**before, "open_reports": before["open_reports"] + 1, "unresolved": before["unresolved"] + 1}
    after = _assert_one_change(cid, before, events, actor=Actor.SYSTEM, to=Status.PENDING, reason=AuditReason.REPORTED,
                               decided=False, resolved=False)
    assert after["open_reports"] == 3
    assert db_get(Comment, cid).hold_reasons[-1]["code"] == ReasonCode.REPORTED


def test_a_ban_rejecting_what_the_author_posted(client, news, events):
    ids = [_in_status(client, news, Status.PUBLISHED), _in_status(client, news, Status.PENDING)]
    before = {cid: _state(cid) for cid in ids}
    events.clear()
    r = client.post(f"{API}/bans", json={"kind": "email", "value": "layla@example.org", "reject_existing": True},
                    headers=auth(news))
    assert r.get_json()["rejected_comments"] == 2
    for cid in ids:
        _assert_one_change(cid, before[cid], events, actor=Actor.SYSTEM, to=Status.REJECTED,
                           reason=AuditReason.AUTHOR_BANNED, decided=True, resolved=True)
        assert _last_row(cid).actor_id == f"key:{news[:12]}"


def test_a_privacy_erase(client, news, events):
    shown, gone = _in_status(client, news, Status.PUBLISHED), _in_status(client, news, Status.DELETED)
    before = {cid: _state(cid) for cid in (shown, gone)}
    events.clear()
    r = client.post(f"{API}/privacy/erase", json={"email": "layla@example.org"}, headers=auth(news))
    assert r.get_json() == {"erased": 2}
    _assert_one_change(shown, before[shown], events, actor=Actor.SYSTEM, to=Status.DELETED,
                       reason=AuditReason.PRIVACY_ERASE, decided=True, resolved=True)
    _assert_one_change(gone, before[gone], events, actor=Actor.SYSTEM, to=Status.DELETED,
                       reason=AuditReason.PRIVACY_ERASE, decided=False, resolved=False)


def test_a_subscriber_that_fails_refuses_the_change(client, news, events):
    cid = _in_status(client, news, Status.PENDING)
    before = _before(cid, events)

    def outbox_down(event: CommentChanged) -> None:
        raise RuntimeError("the outbox table is gone")

    with changes.subscribed(outbox_down):
        assert _decide(client, news, cid, Action.APPROVE, 1).status_code == 500
    assert _state(cid) == before  # rolled back with the transaction it ran in


def test_history_is_the_events_read_back(client, news, events):
    cid = _in_status(client, news, Status.PENDING)
    _decide(client, news, cid, Action.APPROVE, 1)
    _decide(client, news, cid, Action.DELETE, 2)
    history = client.get(f"{API}/comments/{cid}/history", headers=auth(news)).get_json()["history"]
    mine = [e for e in events if e.comment_id == cid]
    assert [h["id"] for h in history] == [e.id for e in mine]
    assert [(h["actor_type"], h["from_status"], h["to_status"], h["reason"], h["revision"]) for h in history] == [
        (e.actor.value, e.from_status and e.from_status.value, e.to_status.value, e.reason and e.reason.value,
         e.revision) for e in mine]


def test_every_reason_code_has_one_home():
    """The rules' and the moderators' reason codes are audit reasons with the same values (stored values
    unchanged), and the state machine is what the dashboard offers."""
    assert {r.value for r in ReasonCode} | {r.value for r in RejectReason} <= {a.value for a in AuditReason}
    assert all(AuditReason.of(r).value == r.value for r in (*ReasonCode, *RejectReason))
    assert {a.value for a in Actor} == {"rule", "moderator", "author", "system"}
    assert applicable(Status.SPAM) == (Action.NOT_SPAM, Action.APPROVE, Action.DELETE)
    assert applicable(Status.DELETED) == (Action.RESTORE,)
    assert queue_actions(Queue.REPORTED) == (Action.APPROVE, Action.REJECT, Action.SPAM, Action.DELETE)


def test_the_audit_rows_store_the_same_values(client, news):
    cid = _in_status(client, news, Status.PENDING)
    _decide(client, news, cid, Action.REJECT, 1)
    raw = db_rows(sa.text("SELECT actor_type, reason_code FROM moderation_action WHERE comment_id = :c ORDER BY id"),
                  {"c": cid})
    assert [tuple(r) for r in raw] == [("rule", "suspect_word"), ("moderator", "off_topic")]
