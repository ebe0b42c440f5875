"""The webhooks API: create (the secret once), list, delete, rotate, test, the delivery log; its
refusals with field codes; another site's webhooks are none of this site's business."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from comment_service.models import OutboxEvent, Site, Webhook
from tests.conftest import auth, db_get, db_scalar, new_site, post
from tests.jobs import run_jobs

BASE = "/api/v1/sites/news/webhooks"


def create(client, key, **body):
    body.setdefault("events", ["comment.created"])
    return client.post(BASE, headers=auth(key), json=body)


def fields_of(r, status=422):
    assert r.status_code == status, r.get_data(as_text=True)
    return {name: [e["code"] for e in errs] for name, errs in r.get_json()["error"]["fields"].items()}


def test_a_new_webhook_shows_its_secret_once(client, site, key, hook):
    r = create(client, key, url=hook.url, events=["comment.published", "comment.created", "comment.published"],
               description="Purge the CDN")
    assert r.status_code == 201
    body = r.get_json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    webhook = body["webhook"]
    assert webhook["url"] == hook.url and webhook["events"] == ["comment.created", "comment.published"]
    assert webhook["enabled"] is True and webhook["description"] == "Purge the CDN"
    listed = client.get(BASE, headers=auth(key)).get_json()["webhooks"]
    assert listed == [webhook] and body["secret"] not in str(listed)
    stored = db_get(Webhook, webhook["id"])
    assert body["secret"] not in str(vars(stored)), "the secret is derived, never stored"


def test_the_url_is_stored_as_the_service_connects_to_it(client, site, key):
    r = create(client, key, url="https://Hooks.مثال.مصر:443/واجهة?x=1")
    assert r.status_code == 201
    assert r.get_json()["webhook"]["url"] == "https://hooks.xn--mgbh0fb.xn--wgbh1c/%D9%88%D8%A7%D8%AC%D9%87%D8%A9?x=1"


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "javascript:alert(1)", "https://", "hooks.example/x",
                                 "https://user:pw@hooks.example/", "https://hooks.example/#frag", "http://a b/",
                                 "https://hooks.example/" + "x" * 2000, 42])
def test_a_bad_url_is_a_field_error(client, site, key, url):
    codes = fields_of(create(client, key, url=url))
    assert set(codes) == {"url"} and codes["url"][0] in {"invalid_url", "too_long", "invalid_type"}


@pytest.mark.parametrize(("body", "codes"), [
    ({"url": "https://hooks.example/", "events": []}, {"events": ["required"]}),
    ({"url": "https://hooks.example/", "events": ["comment.created", "comment.eaten"]},
     {"events.1": ["invalid_choice"]}),
    ({"url": "https://hooks.example/", "events": "comment.created"}, {"events": ["invalid_type"]}),
    ({"url": "https://hooks.example/"}, {"events": ["required"]}),
    ({"events": ["comment.created"]}, {"url": ["required"]}),
    ({"url": "https://hooks.example/", "events": ["comment.created"], "secret": "mine"}, {"secret": ["unknown_field"]}),
    ({"url": "https://hooks.example/", "events": ["comment.created"], "description": "x" * 201},
     {"description": ["too_long"]}),
])
def test_bad_fields_are_field_errors(client, site, key, body, codes):
    assert fields_of(client.post(BASE, headers=auth(key), json=body)) == codes
    assert client.get(BASE, headers=auth(key)).get_json() == {"webhooks": []}


@pytest.fixture
def production_rules(app):
    app.config["MAJLIS_WEBHOOK_ALLOW_PRIVATE"] = False


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://10.0.0.7/", "http://169.254.169.254/latest",
                                 "http://[::1]/", "http://localhost/", "http://192.168.1.1/", "http://[fe80::1]/",
                                 "http://0.0.0.0/", "http://100.64.0.1/"])
def test_private_targets_are_refused_unless_allowed(client, site, key, production_rules, url):
    assert fields_of(create(client, key, url=url)) == {"url": ["private_address"]}
    assert db_scalar(sa.select(sa.func.count()).select_from(Webhook)) == 0


def test_a_public_address_and_an_unresolvable_name_are_accepted(client, site, key, production_rules):
    assert create(client, key, url="https://93.184.216.34/hook").status_code == 201
    # DNS may not exist yet; each attempt checks the address it connects to again.
    assert create(client, key, url="https://hooks.invalid/hook").status_code == 201


def test_a_site_has_at_most_ten(client, site, key):
    for i in range(10):
        assert create(client, key, url=f"https://hooks.example/{i}").status_code == 201
    r = create(client, key, url="https://hooks.example/11")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "too_many_webhooks"


def test_the_site_remembers_what_its_endpoints_want(client, site, key):
    """Site.outbox_events is the union of the enabled endpoints' events: what a change looks at."""
    a = create(client, key, url="https://hooks.example/a", events=["comment.held"]).get_json()["webhook"]
    create(client, key, url="https://hooks.example/b", events=["comment.created", "comment.held"])
    assert db_get(Site, site.id).outbox_events == ["comment.created", "comment.held"]
    assert client.delete(f"{BASE}/{a['id']}", headers=auth(key)).status_code == 204
    assert db_get(Site, site.id).outbox_events == ["comment.created", "comment.held"]
    for webhook in client.get(BASE, headers=auth(key)).get_json()["webhooks"]:
        client.delete(f"{BASE}/{webhook['id']}", headers=auth(key))
    assert db_get(Site, site.id).outbox_events is None
    post(client)
    assert db_scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0


def test_another_sites_webhooks_are_not_found(client, ctx, site, key, hook):
    from comment_service.services.sites import issue_api_key

    other = new_site("other", "Other", ["https://other.example"])
    with ctx:
        other_key = issue_api_key(other)
    mine = create(client, key, url=hook.url).get_json()["webhook"]["id"]
    for method, path in [("get", f"/api/v1/sites/other/webhooks/{mine}/deliveries"),
                         ("delete", f"/api/v1/sites/other/webhooks/{mine}"),
                         ("post", f"/api/v1/sites/other/webhooks/{mine}/rotate-secret"),
                         ("post", f"/api/v1/sites/other/webhooks/{mine}/test")]:
        r = getattr(client, method)(path, headers=auth(other_key))
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "webhook_not_found", path
    assert client.get(BASE, headers=auth(other_key)).status_code == 404  # this site's list, another site's key
    assert client.get("/api/v1/sites/other/webhooks", headers=auth(other_key)).get_json() == {"webhooks": []}
    assert client.get(BASE).status_code == 401
    assert db_get(Webhook, mine) is not None


def test_a_test_message_is_queued_and_logged(app, client, site, key, hook):
    webhook = create(client, key, url=hook.url).get_json()["webhook"]
    r = client.post(f"{BASE}/{webhook['id']}/test", headers=auth(key))
    assert r.status_code == 202
    delivery = r.get_json()["delivery"]
    assert delivery["type"] == "webhook.test" and delivery["status"] == "pending" and delivery["attempts"] == 0
    run_jobs(app)
    (got,) = hook.wait_for(1)
    assert got.headers["webhook-id"] == delivery["message_id"]
    log = client.get(f"{BASE}/{webhook['id']}/deliveries", headers=auth(key)).get_json()
    assert log["deliveries"][0]["status"] == "delivered" and log["deliveries"][0]["last_status_code"] == 204


def test_the_delivery_log_pages_newest_first_and_filters(app, client, site, key, hook):
    webhook = create(client, key, url=hook.url).get_json()["webhook"]
    for _ in range(5):
        client.post(f"{BASE}/{webhook['id']}/test", headers=auth(key))
    path = f"{BASE}/{webhook['id']}/deliveries"
    first = client.get(f"{path}?limit=2", headers=auth(key)).get_json()
    ids = [d["id"] for d in first["deliveries"]]
    assert ids == sorted(ids, reverse=True) and first["next_cursor"]
    second = client.get(f"{path}?limit=2&cursor={first['next_cursor']}", headers=auth(key)).get_json()
    assert max(d["id"] for d in second["deliveries"]) < min(ids)
    assert client.get(f"{path}?status=delivered", headers=auth(key)).get_json()["deliveries"] == []
    assert fields_of(client.get(f"{path}?status=lost&limit=0", headers=auth(key))).keys() == {"status", "limit"}


def test_rotating_keeps_the_old_secret_signing_for_a_day(app, client, site, key, hook):
    from standardwebhooks import Webhook as Verifier

    created = create(client, key, url=hook.url).get_json()
    webhook_id, old = created["webhook"]["id"], created["secret"]
    r = client.post(f"{BASE}/{webhook_id}/rotate-secret", headers=auth(key))
    assert r.status_code == 200
    new = r.get_json()["secret"]
    assert new != old and r.get_json()["webhook"]["previous_secret_until"]
    client.post(f"{BASE}/{webhook_id}/test", headers=auth(key))
    run_jobs(app)
    (got,) = hook.wait_for(1)
    assert len(got.headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        assert Verifier(secret).verify(got.body, got.headers)["type"] == "webhook.test"


def test_a_rotation_over_a_day_ago_signs_with_the_new_secret_only(app, client, ctx, site, key, hook):
    from datetime import timedelta

    from comment_service.extensions import db
    from comment_service.models import utcnow

    created = create(client, key, url=hook.url).get_json()
    webhook_id = created["webhook"]["id"]
    client.post(f"{BASE}/{webhook_id}/rotate-secret", headers=auth(key))
    with ctx:
        db.session.get(Webhook, webhook_id).previous_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    client.post(f"{BASE}/{webhook_id}/test", headers=auth(key))
    run_jobs(app)
    assert len(hook.wait_for(1)[0].headers["webhook-signature"].split()) == 1


def test_an_endpoint_a_410_disabled_can_be_enabled_again_and_changed(app, client, site, key):
    from tests.receiver import receiver

    with receiver(statuses=[410, 204]) as gone:
        webhook = create(client, key, url=gone.url).get_json()["webhook"]
        post(client)
        run_jobs(app)
        assert client.get(BASE, headers=auth(key)).get_json()["webhooks"][0]["enabled"] is False
        assert db_get(Site, site.id).outbox_events is None
        r = client.patch(f"{BASE}/{webhook['id']}", headers=auth(key),
                         json={"enabled": True, "events": ["comment.created", "comment.published"],
                               "description": "back"})
        assert r.status_code == 200
        changed = r.get_json()
        assert changed["enabled"] is True and changed["disabled_reason"] is None and changed["description"] == "back"
        assert db_get(Site, site.id).outbox_events == ["comment.created", "comment.published"]
        post(client)
        run_jobs(app)
        assert len(gone.wait_for(3)) == 3  # the 410, then this comment's two messages
    r = client.patch(f"{BASE}/{webhook['id']}", headers=auth(key), json={"enabled": False})
    assert r.get_json()["enabled"] is False and db_get(Site, site.id).outbox_events is None
    assert fields_of(client.patch(f"{BASE}/{webhook['id']}", headers=auth(key),
                                  json={"events": [], "enabled": "yes", "url": "https://x.example/"})) == {
        "events": ["required"], "enabled": ["invalid_type"], "url": ["unknown_field"]}
