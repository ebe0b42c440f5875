"""The webhooks pages (site admins): add one and see its secret once, the API's validation beside
each field in both languages, the delivery log (a real receiver, the app's queue run in the test),
rotate, test, delete; and what is refused: other roles, another site's webhook, no CSRF token, GET."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from comment_service import services
from comment_service.dashboard import i18n
from comment_service.models import Webhook, WebhookDelivery, utcnow
from comment_service.moderation.events import EVENT_TYPES, TEST
from comment_service.services import moderators, webhooks
from tests.conftest import db_add, db_get, db_scalar, db_scalars, in_ctx
from tests.dashboard.conftest import csrf, login
from tests.jobs import run_jobs
from tests.receiver import receiver

URL = "/dashboard/sites/news/settings/webhooks"
SECRET = re.compile(r'<code dir="ltr" class="secret">(whsec_[^<]+)</code>')
PRODUCTION = {"MAJLIS_WEBHOOK_ALLOW_PRIVATE": False}  # as production has it


@in_ctx
def _make(url: str = "https://hooks.example/majlis", slug: str = "news", events=("comment.published",)):
    """A webhook made through the service: (id, secret)."""
    webhook, secret = webhooks.create_webhook(services.get_site(slug), url, list(events), None)
    return webhook.id, secret


@in_ctx
def _secret(webhook_id: int) -> str:
    return webhooks.secret_of(db_get(Webhook, webhook_id))


@in_ctx
def _signing_keys(webhook_id: int) -> int:
    return len(webhooks.signing_keys(db_get(Webhook, webhook_id), utcnow()))


@in_ctx
def _hooks(slug: str = "news") -> list[Webhook]:
    return db_scalars(sa.select(Webhook).where(Webhook.site_id == services.get_site(slug).id).order_by(Webhook.id))


def _deliveries(webhook_id: int) -> list[WebhookDelivery]:
    return db_scalars(sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
                      .order_by(WebhookDelivery.id))


def _add(client, **changes):
    """Post the "add a webhook" form with the page's own CSRF token (None leaves a field out)."""
    data = {"url": "https://hooks.example/majlis", "events": ["comment.published", "comment.deleted"],
            "description": "Purge the article's cache", "csrf_token": csrf(client, URL), **changes}
    return client.post(URL, data={k: v for k, v in data.items() if v is not None})


def _page(client, webhook_id: int, query: str = "") -> str:
    r = client.get(f"{URL}/{webhook_id}{query}")
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def _action(client, webhook_id: int, action: str, token: bool = True):
    data = {"csrf_token": csrf(client, f"{URL}/{webhook_id}")} if token else {}
    return client.post(f"{URL}/{webhook_id}/{action}", data=data)


def _error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{field}-1">([^<]*)</p>', page)
    assert found, f"no error beside {field}"
    return found.group(1)


def _arabic(ctx, moderator) -> None:
    with ctx:
        moderators.set_language(moderators.find_moderator(moderator.email), "ar")


# --- what an admin sees ----------------------------------------------------------------------------

def test_the_settings_page_leads_to_the_webhooks(signed_in, site):
    settings = signed_in.get("/dashboard/sites/news/settings").get_data(as_text=True)
    assert f'href="{URL}"' in settings
    page = signed_in.get(URL).get_data(as_text=True)
    assert "This site has no webhook yet." in page and 'name="events" value="comment.hidden_by_reports"' in page


def test_adding_a_webhook_shows_its_secret_once(signed_in, site):
    r = _add(signed_in, url="HTTPS://Hooks.Example/majlis")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    page = r.get_data(as_text=True)
    assert "Webhook added." in page and "It is shown this once and will not be shown again" in page
    secret = SECRET.search(page).group(1)
    [hook] = _hooks()
    assert hook.url == "https://hooks.example/majlis"  # normalised as the API's schema does
    assert hook.events == ["comment.deleted", "comment.published"] and hook.description == "Purge the article's cache"
    assert secret == _secret(hook.id)
    listed = signed_in.get(URL).get_data(as_text=True)
    assert "https://hooks.example/majlis" in listed and "Purge the article&#39;s cache" in listed
    assert "A comment becomes visible to readers" in listed and "1 webhook (a site may have 10)" in listed
    assert "whsec_" not in listed and "whsec_" not in _page(signed_in, hook.id)  # never again


@pytest.mark.parametrize("url", ["", "ftp://hooks.example/x", "not a url", "https://hooks.example/x#part", "https://"])
def test_a_bad_address_is_refused_beside_the_field(signed_in, site, url):
    r = _add(signed_in, url=url)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert _error(page, "url") == "Enter the receiver&#39;s address, starting with https:// (or http://)."
    assert re.search(r'id="url"[^>]*aria-invalid="true" aria-describedby="err-url-1"', page)
    assert "Some fields need attention; no webhook was added." in page
    assert 'value="comment.deleted" checked' in page  # what was typed and ticked stays
    assert _hooks() == []


def test_no_event_chosen_is_refused_beside_the_events(signed_in, site):
    page = _add(signed_in, events=None).get_data(as_text=True)
    assert _error(page, "events") == "Choose at least one event."
    assert '<fieldset aria-invalid="true" aria-describedby="err-events-1">' in page
    r = _add(signed_in, events=["comment.published", "comment.exploded"])  # a forged form
    assert r.status_code == 422 and "Must be one of" in _error(r.get_data(as_text=True), "events")
    assert _hooks() == []


@pytest.mark.parametrize("app_config", [PRODUCTION])
def test_a_private_address_is_refused_in_production(signed_in, site, app_config):
    for url in ("http://10.1.2.3/hook", "http://127.0.0.1:8080/hook", "http://[fe80::1]/hook"):
        r = _add(signed_in, url=url)
        assert r.status_code == 422, url
        assert _error(r.get_data(as_text=True), "url") == \
            "Webhooks cannot be sent to private, loopback or link-local addresses."
    assert _hooks() == []


@pytest.mark.parametrize("app_config", [PRODUCTION])
def test_errors_are_in_arabic_for_an_arabic_moderator(ctx, signed_in, site, admin, app_config):
    _arabic(ctx, admin)
    page = _add(signed_in, url="ftp://x", events=None).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert _error(page, "url").startswith("أدخل عنوان المستقبِل كاملًا")
    assert _error(page, "events") == "اختر حدثًا واحدًا على الأقل."
    assert "بعض الحقول تحتاج إلى تصحيح؛ لم يُضف أي خطاف." in page
    page = _add(signed_in, url="http://10.1.2.3/hook").get_data(as_text=True)
    assert _error(page, "url").startswith("لا تُرسَل خطافات الويب إلى عناوين الشبكات الخاصة")
    assert "Enter the receiver" not in page and "private, loopback" not in page


def test_the_eleventh_webhook_is_refused_with_a_clear_message(ctx, signed_in, site, admin):
    for i in range(webhooks.MAX_PER_SITE):
        _make(f"https://hooks.example/{i}")
    r = _add(signed_in)
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    assert 'data-code="too_many_webhooks">This site already has 10 webhooks, the most a site may have.' in page
    assert len(_hooks()) == 10
    _arabic(ctx, admin)
    assert "بلغ هذا الموقع الحد الأقصى لخطافات الويب (10)" in _add(signed_in).get_data(as_text=True)


def test_rotating_shows_the_new_secret_once_and_the_old_one_still_signs(signed_in, site):
    hook_id, old = _make()
    r = _action(signed_in, hook_id, "rotate-secret")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    new = SECRET.search(page).group(1)
    assert new != old and new == _secret(hook_id) and "will not be shown again" in page
    assert "The previous secret keeps signing beside it for 1 day" in page
    later = _page(signed_in, hook_id)
    assert new not in later and old not in later
    assert "Previous secret" in later and "still signs too; stops in 23 hours" in later
    assert _signing_keys(hook_id) == 2


# --- the delivery log -------------------------------------------------------------------------------

def test_a_test_message_is_queued_then_shows_as_delivered(app, signed_in, site):
    with receiver() as hook:
        page = _add(signed_in, url=hook.url).get_data(as_text=True)
        hook_id = _hooks()[0].id
        assert "Nothing has been sent yet." in page
        r = _action(signed_in, hook_id, "test")
        assert r.status_code == 302 and r.headers["Location"].endswith(f"{URL}/{hook_id}")
        page = _page(signed_in, hook_id)
        assert "A test message is queued; how it went shows in the log below." in page
        [row] = re.findall(r'<tr class="delivery delivery-pending".*?</tr>', page, re.S)
        assert "Test message" in row and "webhook.test" in row and "any moment now" in row
        assert "<td>0</td>" in row  # no attempt yet
        assert run_jobs(app) == ["webhooks.deliver"]
        [got] = hook.wait_for(1)
        assert got.headers["webhook-id"] == _deliveries(hook_id)[0].message_id
    [row] = re.findall(r'<tr class="delivery delivery-delivered".*?</tr>', _page(signed_in, hook_id), re.S)
    assert ">delivered<" in row and "<td>1</td>" in row and "HTTP 204" in row


def test_a_failing_receiver_shows_its_answer_and_the_next_try(app, signed_in, site):
    with receiver(statuses=[500]) as hook:
        hook_id, _ = _make(hook.url)
        _action(signed_in, hook_id, "test")
        run_jobs(app)  # the first attempt; the retry waits (5 s by default)
    page = _page(signed_in, hook_id)
    [row] = re.findall(r'<tr class="delivery delivery-pending".*?</tr>', page, re.S)
    assert "HTTP 500" in row and "<td>1</td>" in row and re.search(r">in \d seconds<", row)


def test_a_receiver_answering_410_disables_the_webhook_and_the_pages_say_so(ctx, app, signed_in, site, admin):
    with receiver(statuses=[410]) as hook:
        hook_id, _ = _make(hook.url)
        _action(signed_in, hook_id, "test")
        run_jobs(app)
    page = _page(signed_in, hook_id)
    assert "Disabled just now: the receiver answered 410 Gone, so no events are sent to it any more" in page
    assert '<span class="status-badge badge-bad">disabled</span>' in page
    assert "HTTP 410" in page and ">failed<" in page
    assert '<span class="status-badge badge-bad">disabled</span>' in signed_in.get(URL).get_data(as_text=True)
    _arabic(ctx, admin)
    assert "عُطِّل الآن: أجاب المستقبِل 410 Gone" in _page(signed_in, hook_id)


def test_the_log_is_newest_first_fifty_a_page_with_a_link_to_older(signed_in, site):
    hook_id, _ = _make()
    now = utcnow()
    db_add(*[WebhookDelivery(webhook_id=hook_id, message_id=f"msg_{i}", type="comment.published",
                             status=("failed" if i % 10 == 0 else "delivered"), attempts=1 + (i % 10 == 0) * 7,
                             last_status_code=500 if i % 10 == 0 else 204, created_at=now - timedelta(minutes=60 - i),
                             finished_at=now) for i in range(53)])
    ids = [d.id for d in _deliveries(hook_id)]
    page = _page(signed_in, hook_id)
    shown = [int(x) for x in re.findall(r'<tr class="delivery [^"]*" data-id="(\d+)"', page)]
    assert shown == ids[::-1][:50]
    older = re.search(r'<a href="([^"]+)">Older deliveries</a>', page).group(1).replace("&amp;", "&")
    rest = signed_in.get(older).get_data(as_text=True)
    assert [int(x) for x in re.findall(r'data-id="(\d+)"', rest)] == ids[::-1][50:]
    assert "Older deliveries" not in rest
    failed = _page(signed_in, hook_id, "?status=failed")
    assert [int(x) for x in re.findall(r'data-id="(\d+)"', failed)] == ids[50::-10]
    assert 'aria-current="page">failed</a>' in failed and "<td>8</td>" in failed
    assert "No delivery with this status." in _page(signed_in, hook_id, "?status=pending")
    for bad in ("?status=lost", "?before=abc", "?before=99999999999999"):
        assert signed_in.get(f"{URL}/{hook_id}{bad}").status_code == 422, bad


def test_deleting_removes_the_webhook_and_its_log(signed_in, site):
    hook_id, _ = _make()
    _action(signed_in, hook_id, "test")
    r = _action(signed_in, hook_id, "delete")
    assert r.status_code == 302 and r.headers["Location"].endswith(URL)
    assert "Webhook deleted." in signed_in.get(URL).get_data(as_text=True)
    assert _hooks() == [] and _deliveries(hook_id) == []


# --- what is refused ----------------------------------------------------------------------------------

def test_a_moderator_who_is_not_an_admin_gets_what_the_keys_page_gives(client, site, mod):
    hook_id, secret = _make()
    login(client, mod.email)
    assert client.get("/dashboard/sites/news/settings").status_code == 403  # the keys' page
    token = csrf(client, "/dashboard/sites/news/queues/pending")
    for path in (URL, f"{URL}/{hook_id}"):
        r = client.get(path)
        assert r.status_code == 403 and "Only this site&#39;s admins can open this page." in r.get_data(as_text=True)
    form = {"csrf_token": token, "url": "https://evil.example/", "events": "comment.created"}
    for path in (URL, f"{URL}/{hook_id}/rotate-secret", f"{URL}/{hook_id}/test", f"{URL}/{hook_id}/delete"):
        r = client.post(path, data=form)
        assert r.status_code == 403 and "whsec_" not in r.get_data(as_text=True), path
    assert [h.id for h in _hooks()] == [hook_id] and _secret(hook_id) == secret and _deliveries(hook_id) == []


def test_another_sites_webhook_is_not_found(signed_in, site, other_site):
    theirs, secret = _make("https://gazette.example/hook", slug="gazette")
    for path in (f"{URL}/{theirs}", f"{URL}/{theirs}?status=failed"):
        r = signed_in.get(path)
        assert r.status_code == 404 and "No such webhook on this site." in r.get_data(as_text=True)
    token = csrf(signed_in, URL)
    for action in ("rotate-secret", "test", "delete"):
        r = signed_in.post(f"{URL}/{theirs}/{action}", data={"csrf_token": token})
        assert r.status_code == 404 and "whsec_" not in r.get_data(as_text=True), action
    assert signed_in.get("/dashboard/sites/gazette/settings/webhooks").status_code == 404  # not their site
    assert db_get(Webhook, theirs) is not None and _secret(theirs) == secret and _deliveries(theirs) == []


def test_a_post_without_the_csrf_token_is_refused(signed_in, site):
    hook_id, secret = _make()
    r = signed_in.post(URL, data={"url": "https://other.example/", "events": "comment.created"})
    assert r.status_code == 400 and "did not come from this dashboard" in r.get_data(as_text=True)
    for action in ("rotate-secret", "test", "delete"):
        r = _action(signed_in, hook_id, action, token=False)
        assert r.status_code == 400 and "whsec_" not in r.get_data(as_text=True), action
    assert [h.id for h in _hooks()] == [hook_id] and _secret(hook_id) == secret and _deliveries(hook_id) == []


def test_a_get_changes_nothing(signed_in, site):
    hook_id, secret = _make()
    for path in (URL, f"{URL}/{hook_id}"):
        assert signed_in.get(path).status_code == 200
    for action in ("rotate-secret", "test", "delete"):
        assert signed_in.get(f"{URL}/{hook_id}/{action}").status_code == 405, action
    assert signed_in.get(f"{URL}?url=https://x.example/&events=comment.created").status_code == 200
    assert [h.id for h in _hooks()] == [hook_id] and _secret(hook_id) == secret and _deliveries(hook_id) == []
    assert db_scalar(sa.select(sa.func.count()).select_from(Webhook)) == 1


# --- words ---------------------------------------------------------------------------------------------

def test_every_event_type_has_words_in_both_languages():
    for lang in i18n.LANGUAGES:
        missing = [e for e in (*EVENT_TYPES, TEST) if "event_" + e.replace(".", "_") not in i18n.catalog(lang)]
        assert missing == [], lang


@pytest.mark.parametrize("seconds,en,ar", [
    (0, "any moment now", "في أي لحظة"), (5, "in 5 seconds", "بعد 5 ثوانٍ"), (60, "in 1 minute", "بعد دقيقة"),
    (120, "in 2 minutes", "بعد دقيقتين"), (3600 * 11, "in 11 hours", "بعد 11 ساعة"), (86400 * 2, "in 2 days", "بعد يومين"),
])
def test_a_next_try_reads_naturally(seconds, en, ar):
    now = utcnow()
    assert i18n.until("en", now + timedelta(seconds=seconds), now) == en
    assert i18n.until("ar", now + timedelta(seconds=seconds), now) == ar
