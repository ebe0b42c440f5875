"""Queue pages and decisions: counts, items, filters, claims, every action, stale refusals, bulk."""
from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa

from comment_service.models import Ban, Claim, Comment, ModerationAction
from tests.conftest import configure, db_get, db_scalar, db_scalars, post
from tests.dashboard.conftest import csrf, decide, login, make_moderator

Q = "/dashboard/sites/news/queues"


def _status(cid: int) -> str:
    return db_get(Comment, cid).status.value


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<article class="item[^"]*" id="c-(\d+)"', html)]


def test_queue_page_shows_counts_age_and_what_a_moderator_needs(client, signed_in, site, held):
    hit = post(client, body="هذا كَلب <b>كبير</b>", thread_url="https://news.example/a-42").get_json()["comment"]["id"]
    page = signed_in.get(f"{Q}/pending").get_data(as_text=True)
    assert _ids(page) == [*held, hit]  # oldest first
    assert 'data-count="pending">6<' in page and 'data-count="approved">0<' in page
    assert "The oldest pending comment arrived" in page
    assert "layla@example.org" in page and "Layla" in page  # moderators see the email
    assert "Author here: 0 approved · 0 rejected · 0 spam" in page
    assert 'href="https://news.example/a-42"' in page and "مقال تجريبي" in page
    assert 'dir="auto">هذا <mark data-reasons="0" title="Suspect word">كَلب</mark> &lt;b&gt;كبير&lt;/b&gt;</div>' in page
    assert "«<bdi>كلب*</bdi>» from the list matched «<bdi>كَلب</bdi>»" in page and "This site reviews every comment" in page
    assert re.search(r'IP <code dir="ltr">[0-9a-f]{8}</code>', page)
    assert "revision 1" in page


def test_reported_items_show_their_reports(client, signed_in, site):
    cid = post(client, body="fine?").get_json()["comment"]["id"]
    client.post(f"/api/v1/sites/news/comments/{cid}/reports", json={"reason": "abuse", "note": "rude to me"})
    page = signed_in.get(f"{Q}/reported").get_data(as_text=True)
    assert _ids(page) == [cid] and "1 reader report" in page and "rude to me" in page and "Abuse" in page
    token = csrf(signed_in, f"{Q}/reported")
    r = signed_in.post(f"/dashboard/sites/news/comments/{cid}/dismiss", data={"revision": "1", "csrf_token": token},
                       headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.get_json()["status"] == "published" and "error" not in r.get_json()
    assert db_get(Comment, cid).open_reports == 0


def test_filters_by_thread_and_text(client, signed_in, site, held):
    other = post(client, thread="article-7", body="casino bonus here").get_json()["comment"]["id"]
    assert _ids(signed_in.get(f"{Q}/pending?thread=article-7").get_data(as_text=True)) == [other]
    assert _ids(signed_in.get(f"{Q}/pending?q=CASINO").get_data(as_text=True)) == [other]
    assert _ids(signed_in.get(f"{Q}/pending?q=held%203").get_data(as_text=True)) == [held[3]]
    assert _ids(signed_in.get(f"{Q}/pending?q=100%25").get_data(as_text=True)) == []  # % is literal
    assert _ids(signed_in.get(f"{Q}/pending?thread=nope").get_data(as_text=True)) == []


def test_unknown_queue_is_404(signed_in, site):
    assert signed_in.get(f"{Q}/everything").status_code == 404


def test_two_moderators_never_get_the_same_items(app, client, site, held):
    make_moderator("amal@example.org", site)
    make_moderator("bilal@example.org", site)
    amal, bilal = app.test_client(), app.test_client()
    login(amal, "amal@example.org")
    login(bilal, "bilal@example.org")
    app.config["MAJLIS_CLAIM_LEASE_SECONDS"] = 600
    from comment_service.dashboard import views_queue

    views_queue.PAGE, page = 3, views_queue.PAGE
    try:
        a = _ids(amal.get(f"{Q}/pending").get_data(as_text=True))
        b = _ids(bilal.get(f"{Q}/pending").get_data(as_text=True))
    finally:
        views_queue.PAGE = page
    assert a == held[:3] and b == held[3:]
    assert _ids(amal.get(f"{Q}/pending").get_data(as_text=True)) == held[:3]  # a reload keeps them
    # Bilal acting on Amal's item is refused, with the reason, and nothing changes
    r = decide(bilal, held[0], "approve", json=True)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "claimed_by_other"
    assert "Another moderator has this comment open" in r.get_json()["error"]["message"]
    assert _status(held[0]) == "pending"
    claim = db_get(Claim, held[0]).claimed_by
    assert claim and claim.startswith("mod:")


def test_leaving_the_page_releases_only_what_no_newer_page_holds(signed_in, site, held):
    page = signed_in.get(f"{Q}/pending").get_data(as_text=True)
    first_lease = re.search(r'data-leased-until="([^"]+)"', page).group(1)
    assert datetime.fromisoformat(first_lease).tzinfo is not None
    signed_in.get(f"{Q}/pending")  # a reload renews the leases before the old page's beacon arrives
    token = csrf(signed_in, "/dashboard/sites/news/log")
    r = signed_in.post(f"{Q}/pending/release", data={"csrf_token": token, "leased_until": first_lease,
                                                      "id": [str(i) for i in held]})
    assert r.get_json() == {"released": 0}
    page = signed_in.get(f"{Q}/pending").get_data(as_text=True)
    lease = re.search(r'data-leased-until="([^"]+)"', page).group(1)
    r = signed_in.post(f"{Q}/pending/release", data={"csrf_token": token, "leased_until": lease,
                                                      "id": [str(i) for i in held]})
    assert r.get_json() == {"released": 5}
    assert db_scalar(sa.select(sa.func.count()).select_from(Claim)) == 0


def test_approve_publishes_and_is_logged_under_the_moderator(client, signed_in, admin, held):
    r = decide(signed_in, held[0], "approve")
    assert r.status_code == 302 and r.headers["Location"] == f"{Q}/pending"
    assert "Approved." in signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert _status(held[0]) == "approved"
    page = client.get("/api/v1/sites/news/comments?thread=article-42").get_json()
    assert [c["id"] for c in page["comments"]] == [held[0]]
    action = (db_scalars(sa.select(ModerationAction).order_by(ModerationAction.id.desc())) or [None])[0]
    assert action.actor_type == "moderator" and action.actor_id == f"mod:{admin.id}"


def test_each_action_goes_through_the_state_machine(signed_in, held):
    assert decide(signed_in, held[0], "spam", json=True).get_json()["status"] == "spam"
    assert decide(signed_in, held[0], "not_spam", 2, json=True).get_json()["status"] == "pending"
    assert decide(signed_in, held[1], "reject", json=True, reason="personal_attack").get_json()["status"] == "rejected"
    assert decide(signed_in, held[2], "delete", json=True).get_json()["status"] == "deleted"
    assert decide(signed_in, held[2], "restore", 2, json=True).get_json()["status"] == "pending"
    r = decide(signed_in, held[3], "not_spam", json=True)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_transition"


def test_reject_needs_a_reason(signed_in, held):
    r = decide(signed_in, held[0], "reject", json=True)
    assert r.status_code == 422 and r.get_json()["error"]["message"] == "Choose a reason to reject."
    r = decide(signed_in, held[0], "reject")
    assert "Choose a reason to reject." in signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert decide(signed_in, held[0], "reject", json=True, reason="because").status_code == 422
    assert _status(held[0]) == "pending"


def test_a_stale_decision_is_refused_with_a_message_and_changes_nothing(signed_in, held):
    assert decide(signed_in, held[0], "approve").status_code == 302
    r = decide(signed_in, held[0], "reject", reason="abuse")  # the page still showed revision 1
    page = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "This comment changed since you opened it" in page and 'role="alert"' in page
    assert _status(held[0]) == "approved"
    r = decide(signed_in, held[0], "spam", json=True)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_revision"


def test_bulk_reject_three(signed_in, held):
    token = csrf(signed_in, f"{Q}/pending")
    items = [f"{cid}:1" for cid in held[:3]]
    r = signed_in.post("/dashboard/sites/news/bulk", headers={"Accept": "application/json"},
                       data={"csrf_token": token, "action": "reject", "reason": "off_topic", "item": items})
    body = r.get_json()
    assert r.status_code == 200 and "error" not in body
    assert body["message"] == "3 comments rejected." and [x["ok"] for x in body["results"]] == [True] * 3
    assert [_status(c) for c in held] == ["rejected"] * 3 + ["pending"] * 2


def test_bulk_reports_each_failure(signed_in, held):
    decide(signed_in, held[1], "approve")
    token = csrf(signed_in, f"{Q}/pending")
    r = signed_in.post("/dashboard/sites/news/bulk", data={
        "csrf_token": token, "action": "spam", "item": [f"{held[0]}:1", f"{held[1]}:1"], "next": f"{Q}/pending"})
    page = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "1 comment marked as spam." in page and "1 could not be changed" in page
    assert f"#{held[1]}: This comment changed since you opened it" in page
    r = signed_in.post("/dashboard/sites/news/bulk", headers={"Accept": "application/json"},
                       data={"csrf_token": token, "action": "spam"})
    assert r.status_code == 422 and "Select at least one" in r.get_json()["error"]["message"]


def test_ban_the_author_rejects_what_they_posted(client, signed_in, held):
    r = signed_in.get(f"/dashboard/sites/news/comments/{held[0]}/ban?next={Q}/pending")
    assert r.status_code == 200 and "layla@example.org" in r.get_data(as_text=True)
    token = csrf(signed_in, f"/dashboard/sites/news/comments/{held[0]}/ban")
    r = signed_in.post(f"/dashboard/sites/news/comments/{held[0]}/ban", data={
        "csrf_token": token, "kind": "email", "days": "7", "reason": "flooding", "reject_existing": "on",
        "next": f"{Q}/pending"})
    assert r.status_code == 302 and r.headers["Location"] == f"{Q}/pending"
    assert "5 comments by this author were rejected" in signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert [_status(c) for c in held] == ["rejected"] * 5
    ban = db_scalar(sa.select(Ban))
    assert ban.kind == "email" and ban.label == "l***@example.org" and ban.expires_at is not None
    assert post(client).status_code == 403  # the author can no longer post
    r = signed_in.post(f"/dashboard/sites/news/comments/{held[0]}/ban", data={"csrf_token": token, "kind": "email"})
    assert r.status_code == 422 and "already banned" in r.get_data(as_text=True)


def test_comment_history_page_lists_every_change_by_name(signed_in, admin, held):
    decide(signed_in, held[0], "approve")
    decide(signed_in, held[0], "reject", 2, reason="misinformation")
    page = signed_in.get(f"/dashboard/sites/news/comments/{held[0]}").get_data(as_text=True)
    assert f"Comment #{held[0]}" in page
    assert page.count("<tr>") == 4  # header + 3 changes
    assert "pre-moderation" in page and "misinformation" in page and "Amal" in page
    assert "approved → rejected" in page


def test_recent_decisions_page(signed_in, held):
    for cid in held[:3]:
        decide(signed_in, cid, "approve")
    page = signed_in.get("/dashboard/sites/news/log").get_data(as_text=True)
    assert [int(x) for x in re.findall(r'comments/(\d+)">#', page)] == held[:3][::-1]  # newest first
    assert "Amal" in page


def test_the_arabic_queue_is_right_to_left_with_reasons_in_arabic(ctx, client, signed_in, site, held):
    configure(ctx, "news", {"suspect_words": ["كلب*"]})
    post(client, body="يا كلب")
    token = csrf(signed_in, f"{Q}/pending")
    signed_in.post("/dashboard/language", data={"lang": "ar", "csrf_token": token})
    page = signed_in.get(f"{Q}/pending").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert "كلمة مشبوهة" in page and "هذا الموقع يراجع كل تعليق" in page and "بانتظار المراجعة" in page
    assert "6 تعليقات، الأقدم أولًا" in page


def test_every_json_answer_to_the_page_script_is_in_the_one_shape(signed_in, held):
    """A refusal is `{"error": {"code", "message", "fields"?}}` with its 4xx, as everywhere else; a
    success is a plain object (no `ok` flag to read beside the status)."""
    token = csrf(signed_in, f"{Q}/pending")
    as_json = {"Accept": "application/json"}
    decide(signed_in, held[1], "approve", json=True)
    refused = {
        "decision without its reason": (422, decide(signed_in, held[0], "reject", json=True)),
        "stale decision": (409, decide(signed_in, held[1], "spam", json=True)),
        "bulk with nothing selected": (422, signed_in.post("/dashboard/sites/news/bulk", headers=as_json,
                                                           data={"csrf_token": token, "action": "spam"})),
        "stale dismissal": (409, signed_in.post(f"/dashboard/sites/news/comments/{held[1]}/dismiss", headers=as_json,
                                                data={"csrf_token": token, "revision": "1"})),
        "dismissal without a revision": (422, signed_in.post(f"/dashboard/sites/news/comments/{held[2]}/dismiss",
                                                             headers=as_json, data={"csrf_token": token})),
        "release without its lease": (400, signed_in.post(f"{Q}/pending/release", headers=as_json,
                                                          data={"csrf_token": token, "id": [str(held[3])]})),
        "no CSRF token": (400, decide(signed_in, held[3], "approve", json=True, csrf_token="forged")),
    }
    for what, (status, r) in refused.items():
        body = r.get_json()
        assert r.status_code == status and list(body) == ["error"], (what, r.status_code, body)
        assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "fields"} and body["error"]["message"], what
    assert refused["stale decision"][1].get_json()["error"] == {"code": "stale_revision", "message": (
        "This comment changed since you opened it (another moderator decided, or its author edited it). "
        "Nothing was changed: reload to see it as it is now.")}
    assert refused["decision without its reason"][1].get_json()["error"]["fields"]["reason"][0]["code"] == "required"

    done = decide(signed_in, held[3], "approve", json=True)
    assert done.status_code == 200 and done.get_json() == {
        "id": held[3], "status": "approved", "revision": 2, "message": "Approved."}
    r = signed_in.post("/dashboard/sites/news/bulk", headers=as_json, data={
        "csrf_token": token, "action": "spam", "item": [f"{held[4]}:1", f"{held[1]}:1"]})
    body = r.get_json()
    assert r.status_code == 200 and set(body) == {"results", "message"}
    ok, stale = body["results"]
    assert ok["ok"] and "error" not in ok
    assert not stale["ok"] and stale["error"]["code"] == "stale_revision"
    assert stale["error"]["message"].startswith("This comment changed since you opened it")  # in the moderator's words
