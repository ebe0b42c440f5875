"""The widget in a real browser: the demo pages from a live server, under their strict CSP.

Every test also runs under the rules of the `watch` fixture: no request to another host, no CSP
or Trusted Types violation, no script error, no dialog.
"""
from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -r requirements-dev.txt)")

from playwright.sync_api import expect  # noqa: E402

from comment_service.extensions import db  # noqa: E402
from comment_service.models import Report  # noqa: E402
from tests.browser.conftest import ARTIFACTS  # noqa: E402
from tests.browser.widget import (  # noqa: E402
    AR,
    EMAIL_RE,
    EN,
    arabic_count,
    ascii_digits,
    comment_card,
    comment_item,
    fill_form,
    open_widget,
    post_comment,
    shadow_html,
    site_mode,
    submit,
)


def test_arabic_demo_page_renders_the_seeded_thread_right_to_left(page, live_server):
    root = open_widget(page, live_server, AR)
    assert page.locator("html").get_attribute("dir") == "rtl"
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_attribute("lang", "ar")
    expect(page.locator("h1")).to_have_text("التحالف الدولي يدعو لمراقبة تحركات تنظيم الدولة")
    # The seeded reply sits inside its parent's replies; names in <bdi>, bodies dir=auto.
    sara = comment_item(page, "قراءة مهمة")
    expect(sara.locator(":scope > article bdi.name")).to_have_text("سارة")
    expect(sara.locator(":scope > ol.replies > li.c > article bdi.name")).to_have_text("Omar")
    with live_server.app.test_client() as client:
        count = client.get("/api/v1/sites/demo/counts?thread=coalition-isis-africa").get_json()["counts"]["coalition-isis-africa"]
    assert ascii_digits(page.locator("#mj-title").text_content()) == arabic_count(count)
    for body in page.locator(".body").all():
        expect(body).to_have_attribute("dir", "auto")
    assert page.locator("article .name").count() == page.locator("article bdi.name").count()
    # Arabic strings: the form's note, its labels, relative times, the reply buttons.
    expect(page.locator("#mj-note")).to_have_text("لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *")
    expect(page.locator("#mj-form-title")).to_have_text("اترك تعليقاً")
    expect(page.locator("label[for=mj-author_email]")).to_contain_text("البريد الإلكتروني")
    expect(sara.locator(":scope > article time")).to_have_text(re.compile(r"^(الآن|قبل .+)$"))
    expect(sara.locator(":scope > article button.reply")).to_have_text("رد")
    # Avatars are drawn in place (an SVG identicon), not fetched.
    expect(sara.locator(":scope > article svg.av rect").first).to_be_attached()
    page.screenshot(path=ARTIFACTS / "demo-ar.png", full_page=True)
    page.locator("#majlis-thread").screenshot(path=ARTIFACTS / "demo-ar-widget.png")


def test_form_is_accessible(page, live_server):
    open_widget(page, live_server, EN)
    for name, required in [("body", True), ("author_name", True), ("author_email", True), ("author_url", False)]:
        control = page.locator(f"#mj-{name}")
        label = page.locator(f"label[for=mj-{name}]")
        expect(label).to_have_count(1)
        expect(control).to_have_attribute("aria-describedby", re.compile(rf"\bmj-{name}-err\b"))
        if required:
            expect(control).to_have_attribute("aria-required", "true")
            expect(label.locator(".req")).to_have_text("*")
        else:
            expect(label.locator(".req")).to_have_count(0)
    expect(page.locator("#mj-note")).to_have_text(
        "Your email address will not be published. Required fields are marked *"
    )
    expect(page.get_by_label("Save my name, email, and website in this browser for the next time I comment.")).not_to_be_checked()
    expect(page.locator("[role=status][aria-live=polite]")).to_have_count(1)
    # The honeypot: hidden from people and from assistive technology, never focused by Tab.
    honeypot = page.locator("input[name=company]")
    expect(honeypot).to_have_attribute("tabindex", "-1")
    expect(honeypot).to_have_attribute("autocomplete", "off")
    wrapper = page.locator("[aria-hidden=true]:has(input[name=company])")
    expect(wrapper).to_have_count(1)
    box = wrapper.bounding_box()  # a 1-pixel clipped box: nothing of it shows
    assert box["width"] <= 1 and box["height"] <= 1
    assert wrapper.evaluate("el => getComputedStyle(el).overflow") == "hidden"
    # Every action is a real button; focus is visible.
    assert page.locator("[role=button]").count() == 0
    page.locator("#mj-body").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.shadowRoot.activeElement.id")
    assert focused == "mj-author_name"
    outline = page.locator("#mj-author_name").evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"


def test_post_a_comment_and_see_it(page, live_server, unique):
    open_widget(page, live_server, EN)
    card = post_comment(page, f"Late opening helps students. {unique}", name="Maya Haddad")
    expect(card.locator("bdi.name")).to_have_text("Maya Haddad")
    expect(card.locator("time")).to_have_text(re.compile("now|second"))
    expect(card.locator(".badge")).to_have_count(0)
    expect(page.locator("[role=status]")).to_have_text("Your comment was posted.")
    expect(page.locator("#mj-title")).to_have_text(re.compile(r"^\d+ comments?$"))
    # The form is ready for the next comment; the new one stays after a reload (a second reader sees it too).
    expect(page.locator("#mj-body")).to_have_value("")
    page.reload()
    page.locator("section.mj[data-state=ready]").wait_for()
    expect(comment_card(page, unique)).to_have_count(1)


def test_empty_form_shows_each_fields_error(page, live_server):
    open_widget(page, live_server, EN)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    submit(page)
    for name in ("body", "author_name", "author_email"):
        expect(page.locator(f"#mj-{name}-err")).to_have_text("This field is required.")
        expect(page.locator(f"#mj-{name}")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#mj-author_url-err")).to_be_hidden()
    expect(page.locator("#mj-author_url")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("[role=status]")).to_have_text("Please correct the highlighted fields.")
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.id") == "mj-body"
    assert posts == []  # checked in the browser: nothing was sent
    # The same checks as the server: lengths, URL scheme, bidi controls in the name.
    fill_form(page, body="x" * 5001, name="\u202eevil", email="not-an-email", url="javascript:alert(1)")
    submit(page)
    expect(page.locator("#mj-body-err")).to_have_text("Must be at most 5,000 characters.")
    expect(page.locator("#mj-author_name-err")).to_have_text("Contains invisible text-direction controls.")
    expect(page.locator("#mj-author_email-err")).to_have_text("Enter a valid email address.")
    expect(page.locator("#mj-author_url-err")).to_have_text("Enter a web address starting with http:// or https://.")
    assert posts == []
    page.screenshot(path=ARTIFACTS / "demo-en-errors.png", full_page=True)


def test_arabic_errors_are_translated(page, live_server):
    open_widget(page, live_server, AR)
    submit(page)
    expect(page.locator("#mj-author_name-err")).to_have_text("هذا الحقل مطلوب.")
    fill_form(page, body="تعليق", name="ليلى", email="layla@example.invalid")
    with page.expect_response(lambda r: r.request.method == "POST") as resp:
        submit(page)
    assert resp.value.status == 422
    expect(page.locator("#mj-author_email-err")).to_have_text("أدخل عنوان بريد إلكتروني صحيحاً.")
    page.locator("#majlis-thread").screenshot(path=ARTIFACTS / "demo-ar-errors.png")


def test_invalid_email_shows_the_servers_message(page, live_server):
    open_widget(page, live_server, EN)
    # Passes the browser's syntax check; the server's email-validator refuses a reserved domain.
    fill_form(page, body="Hello", name="Sam", email="sam@example.invalid")
    with page.expect_response(lambda r: r.request.method == "POST") as resp:
        submit(page)
    answer = resp.value.json()
    assert resp.value.status == 422
    server_error = answer["error"]["fields"]["author_email"][0]
    assert server_error["code"] == "invalid_email"
    error = page.locator("#mj-author_email-err")
    expect(error).to_have_text(server_error["message"])
    expect(page.locator("#mj-author_email")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.id") == "mj-author_email"


def test_an_unknown_error_code_falls_back_to_the_servers_message(page, live_server):
    open_widget(page, live_server, EN)
    body = {"error": {"code": "validation_failed", "message": "Some fields need attention.",
                      "fields": {"body": [{"code": "brand_new_rule", "message": "The server explains this one."}]}}}
    page.route("**/api/v1/sites/demo/comments", lambda route: route.fulfill(
        status=422, content_type="application/json", body=json.dumps(body),
        headers={"Access-Control-Allow-Origin": live_server.url}) if route.request.method == "POST" else route.continue_())
    fill_form(page, body="Hello", name="Sam", email="sam@example.org")
    submit(page)
    expect(page.locator("#mj-body-err")).to_have_text("The server explains this one.")


def test_reply_to_a_comment(page, live_server, unique):
    open_widget(page, live_server, EN)
    post_comment(page, f"Will the children's floor stay open? {unique}", name="Huda")
    parent = comment_item(page, unique)
    parent.locator(":scope > article button.reply").click()
    expect(page.locator("#mj-form-title")).to_have_text("Reply to Huda")
    # The form now sits under the comment it answers, and the body field has focus.
    expect(parent.locator(":scope > .respond form")).to_have_count(1)
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.id") == "mj-body"
    with page.expect_request(lambda r: r.method == "POST") as req:
        page.locator("#mj-body").fill(f"Yes, until nine. reply-{unique}")
        page.locator("#mj-author_name").fill("Librarian")
        page.locator("#mj-author_email").fill("desk@library.example")
        submit(page)
    assert req.value.post_data_json["parent_id"] is not None
    expect(parent.locator(":scope > ol.replies > li.c > article .body")).to_have_text(f"Yes, until nine. reply-{unique}")
    # The form went back under the thread.
    expect(page.locator("#mj-form-title")).to_have_text("Leave a comment")
    expect(parent.locator(":scope > .respond")).to_have_count(0)


def test_held_comment_is_shown_only_to_its_author(page, new_context, live_server, unique):
    with site_mode(live_server, "pre"):
        open_widget(page, live_server, EN)
        card = post_comment(page, f"Please open on Fridays too. {unique}", name="Karim")
        expect(card.locator(".badge")).to_have_text("Awaiting moderation")
        expect(page.locator("[role=status]")).to_have_text("Your comment is awaiting moderation.")
        # Held comments cannot be replied to (the server would refuse), nor reported.
        expect(card.locator("button.reply")).to_have_count(0)
        expect(card.locator("button.report")).to_have_count(0)
        page.reload()
        open_widget(page, live_server, EN)
        expect(comment_card(page, unique).locator(".badge")).to_have_text("Awaiting moderation")
        # Another reader (another browser context) does not see it.
        other = new_context().new_page()
        open_widget(other, live_server, EN)
        expect(comment_card(other, unique)).to_have_count(0)
        assert unique not in shadow_html(other)


def test_report_a_comment_with_a_reason(page, new_context, live_server, unique):
    author = new_context().new_page()
    open_widget(author, live_server, EN)
    post_comment(author, f"Buy cheap watches here {unique}", name="Spammy")
    open_widget(page, live_server, EN)
    card = comment_card(page, unique)
    card.locator("button.report").click()
    expect(card.locator("button.report")).to_have_attribute("aria-expanded", "true")
    panel = card.locator("form.panel")
    expect(panel.locator("legend")).to_have_text("Why are you reporting this comment?")
    assert panel.locator("input[type=radio]").count() == 4
    panel.get_by_label("Spam or advertising").check()
    panel.get_by_label("Details (optional)").fill("Advertising, not a comment.")
    with page.expect_response(lambda r: r.url.endswith("/reports")) as resp:
        panel.locator("button[type=submit]").click()
    assert resp.value.status in (200, 201)
    assert resp.value.request.post_data_json == {"reason": "spam", "note": "Advertising, not a comment."}
    expect(page.locator("[role=status]")).to_have_text("Thank you. A moderator will review this comment.")
    expect(card.locator("button.report")).to_have_text("Reported")
    expect(card.locator("button.report")).to_be_disabled()
    with live_server.app.app_context():
        reasons = db.session.scalars(sa.select(Report.reason).where(Report.note == "Advertising, not a comment.")).all()
        db.session.remove()
    assert [str(r) for r in reasons] in (["spam"], ["ReportReason.SPAM"])


def test_no_email_address_reaches_the_page(page, new_context, live_server, unique):
    email = f"Private.Person+{unique}@Example.org"
    seen: list[tuple[str, bytes]] = []

    def record(route):
        """Pass every request through, keeping what came back (bodies vanish after a navigation)."""
        response = route.fetch()
        seen.append((route.request.url, response.body()))
        route.fulfill(response=response)

    page.context.route("**/*", record)
    open_widget(page, live_server, EN)
    post_comment(page, f"My address stays private. {unique}", name="Private Person", email=email)
    page.reload()
    open_widget(page, live_server, EN)
    reader = new_context().new_page()
    reader.context.route("**/*", record)
    open_widget(reader, live_server, EN)
    forms = {email.lower(), email.lower().replace("@", "%40"), email.split("@")[0].lower()}
    for p in (page, reader):
        markup = shadow_html(p).lower()
        values = " ".join(p.locator("input, textarea").evaluate_all("els => els.map(e => e.value)")).lower()
        for form in forms:
            assert form not in markup and form not in values
        assert EMAIL_RE.findall(markup) == []  # no address of anyone at all
        assert email.lower() not in json.dumps(p.evaluate("({...localStorage})")).lower()
    # Every response the pages got: HTML, scripts, thread pages, the 201 and /own answers.
    assert any(url.endswith("/comments") for url, _ in seen) and len(seen) >= 8
    for url, body in seen:
        text = body.decode("utf-8", "replace").lower()
        for form in forms:
            assert form not in text, f"{url} carries the email"
            assert form not in url.lower()


def test_saved_details_only_when_ticked(page, new_context, live_server, unique):
    open_widget(page, live_server, EN)
    post_comment(page, f"First visit {unique}", name="Nadia", email="nadia@example.org")
    assert "nadia@example.org" not in json.dumps(page.evaluate("({...localStorage})"))
    page.locator("#mj-save").check()
    post_comment(page, f"Second visit {unique}", name="Nadia", email="nadia@example.org")
    page.reload()
    open_widget(page, live_server, EN)
    expect(page.locator("#mj-author_name")).to_have_value("Nadia")
    expect(page.locator("#mj-author_email")).to_have_value("nadia@example.org")
    expect(page.locator("#mj-save")).to_be_checked()
    # Unticking forgets them at the next comment.
    page.locator("#mj-save").uncheck()
    post_comment(page, f"Forget me {unique}", name="Nadia", email="nadia@example.org")
    assert "nadia@example.org" not in json.dumps(page.evaluate("({...localStorage})"))


TRICKS = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    '<svg onload="window.__pwned = 3"></svg><iframe srcdoc="<script>parent.__pwned = 4</script>"></iframe>'
    '<a href="javascript:window.__pwned = 5">click me</a> <b onmouseover="window.__pwned = 6">hover me</b>'
    '"><style>*{display:none}</style>{{7*7}} ${7*7} <math><mtext><table><mglyph><style>'
    '<img src=x onerror="window.__pwned = 7">'
)


def test_html_and_script_tricks_render_as_text_and_run_nothing(page, new_context, live_server, unique):
    open_widget(page, live_server, EN)
    name = '<img src=x onerror="window.__pwned = 8">'
    post_comment(page, f"{TRICKS} marker-{unique}", name=name, marker=f"marker-{unique}")
    reader = new_context().new_page()
    open_widget(reader, live_server, EN)
    for p in (page, reader):
        card = comment_card(p, f"marker-{unique}")
        expect(card.locator("bdi.name")).to_have_text(name)  # the name is text
        body = card.locator(".body")
        body.locator("b").hover()
        body.click()
        expect(body).to_contain_text("window.__pwned = 1")  # a script's text, shown as text
        assert body.locator("script, img, svg, iframe, style, math, table").count() == 0
        for link in body.locator("a").all():
            assert not (link.get_attribute("href") or "").lower().startswith("javascript")
        handlers = p.locator("#majlis-thread").evaluate(
            "host => [...host.shadowRoot.querySelectorAll('*')].flatMap(el => [...el.attributes].map(a => a.name))"
            ".filter(n => n.startsWith('on'))")
        assert handlers == []
        assert p.evaluate("window.__pwned") is None
        expect(body).to_contain_text("7*7")


def test_the_widget_filters_markup_even_if_the_server_sent_some(page, live_server, watch):
    """Defence in depth: a body_html the server should never send is filtered in the browser too.

    Chrome reports each inline handler it parses (even in an inert template) to the page's CSP,
    which blocks it: here that report is expected, and is the CSP doing its job."""
    watch.expect_csp("inline event handler")  # the console's wording
    watch.expect_csp("script-src-attr")  # the securitypolicyviolation event's
    evil = {
        "thread": {"key": "forged", "title": None, "url": None, "closed": False, "comment_count": 1},
        "comments": [{
            "id": 999999, "thread": "forged", "parent_id": None, "status": "published",
            "created_at": "2024-01-01T00:00:00+00:00",
            "author": {"name": "Mallory", "url": "javascript:window.__pwned=1", "avatar": "00ff00ff00ff00ff"},
            "body_html": '<p onclick="window.__pwned=2">hi <img src=x onerror="window.__pwned=3">'
                         '<a href="javascript:window.__pwned=4" onmouseover="window.__pwned=5">x</a>'
                         '<form><button formaction="javascript:window.__pwned=6">go</button></form></p>',
        }],
        "next_cursor": None,
    }
    page.route("**/api/v1/sites/demo/comments?*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(evil),
        headers={"Access-Control-Allow-Origin": live_server.url}))
    open_widget(page, live_server, EN)
    card = comment_card(page, "hi")
    expect(card.locator(".body")).to_contain_text("go")
    assert card.locator(".body img, .body form, .body button").count() == 0
    assert card.locator(".body a").get_attribute("href") is None
    assert card.locator("header a").count() == 0  # a javascript: author URL is not linked
    card.locator(".body a").hover()
    card.locator(".body p").first.click()
    assert page.evaluate("window.__pwned") is None
    assert watch.csp_console  # blocked and reported, never run


def test_english_demo_page_left_to_right(page, live_server, unique):
    root = open_widget(page, live_server, EN)
    expect(root).to_have_attribute("dir", "ltr")
    expect(root).to_have_attribute("lang", "en")
    post_comment(page, f"Sunday evenings are when I can come. شكرا للمكتبة! {unique}", name="ليلى Haddad")
    parent = comment_item(page, unique)
    parent.locator(":scope > article button.reply").click()
    page.locator("#mj-body").fill(f"Same here — see https://library.example/hours {unique}-reply")
    page.locator("#mj-author_name").fill("Tom")
    page.locator("#mj-author_email").fill("tom@example.org")
    submit(page)
    expect(comment_card(page, f"{unique}-reply")).to_have_count(1)
    expect(comment_card(page, f"{unique}-reply").locator(".body a")).to_have_attribute("rel", "nofollow ugc noopener")
    page.screenshot(path=ARTIFACTS / "demo-en.png", full_page=True)
    page.locator("#majlis-thread").screenshot(path=ARTIFACTS / "demo-en-widget.png")


def _has_author_endpoints(live_server) -> bool:
    return any(
        rule.rule.endswith("/comments/<int:comment_id>") and "PATCH" in rule.methods
        for rule in live_server.app.url_map.iter_rules()
    )


def test_author_edits_and_deletes_inside_the_window(page, new_context, live_server, unique):
    if not _has_author_endpoints(live_server):
        pytest.skip("this build has no PATCH/DELETE for authors yet")
    open_widget(page, live_server, EN)
    card = post_comment(page, f"First <b>draft</b> {unique}", name="Rami", marker=unique)
    card = page.locator(f"#{card.evaluate('el => el.parentElement.id')} > article")  # stays put while editing
    card.locator("button.edit").click()
    editor = card.locator("textarea")
    expect(editor).to_have_value(f"First <b>draft</b> {unique}")  # the text as written, not its HTML
    editor.fill(f"Second draft {unique}")
    with page.expect_request(lambda r: r.method == "PATCH") as req:
        card.locator("button[type=submit]").click()
    assert req.value.headers.get("x-edit-token")
    card = comment_card(page, f"Second draft {unique}")
    expect(card).to_have_count(1)
    expect(page.locator("[role=status]")).to_have_text("Your comment was updated.")
    # Nobody else gets the author's buttons.
    reader = new_context().new_page()
    open_widget(reader, live_server, EN)
    expect(comment_card(reader, unique).locator("button.edit")).to_have_count(0)
    # Delete asks first, in the page (no browser dialog).
    card.locator("button.delete").click()
    card.locator(".panel button.primary").click()
    expect(comment_card(page, unique)).to_have_count(0)
    expect(page.locator("[role=status]")).to_have_text("Your comment was deleted.")
    page.reload()
    open_widget(page, live_server, EN)
    expect(comment_card(page, unique)).to_have_count(0)


def test_deleted_comment_with_replies_is_a_tombstone_that_keeps_them(page, new_context, live_server, unique):
    if not _has_author_endpoints(live_server):
        pytest.skip("this build has no PATCH/DELETE for authors yet")
    open_widget(page, live_server, EN)
    post_comment(page, f"Parent to withdraw {unique}", name="Ziad")
    other = new_context().new_page()
    open_widget(other, live_server, EN)
    comment_item(other, unique).locator(":scope > article button.reply").click()
    post_comment(other, f"A reply that stays {unique}", name="Mona")
    page.reload()
    open_widget(page, live_server, EN)
    card = comment_card(page, f"Parent to withdraw {unique}")
    card.locator("button.delete").click()
    card.locator(".panel button.primary").click()
    page.reload()
    open_widget(page, live_server, EN)
    reply = comment_item(page, f"A reply that stays {unique}")
    expect(reply).to_have_count(1)
    tombstone = page.locator("li.c").filter(has=page.locator(":scope > .gone")).filter(has=reply)
    expect(tombstone.locator(".tomb")).to_have_text("This comment was deleted.")


def test_counts_on_the_article_list(page, live_server):
    with live_server.app.test_client() as client:
        counts = client.get("/api/v1/sites/demo/counts?thread=coalition-isis-africa&thread=archive-no-comments").get_json()["counts"]
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/counts" in r.url else None)
    page.goto(live_server.url + "/demo/list")
    badges = page.locator("[data-majlis-count]")
    expect(badges.first).to_have_attribute("data-majlis-count-value", re.compile(r"\d+"))
    badge = page.locator("[data-majlis-count=coalition-isis-africa]")
    expect(badge).to_have_attribute("data-majlis-count-value", str(counts["coalition-isis-africa"]))
    assert ascii_digits(badge.text_content()) == arabic_count(counts["coalition-isis-africa"])
    expect(page.locator("[data-majlis-count=archive-no-comments]")).to_have_text("لا تعليقات")
    expect(page.locator("[data-majlis-count=riverside-library-sunday-hours]")).to_have_text(re.compile(r"^\d+ comments?$"))
    assert len(requests) == 1
    page.screenshot(path=ARTIFACTS / "demo-list.png", full_page=True)


def test_a_lost_answer_is_retried_with_the_same_idempotency_key(page, live_server, unique):
    """The first POST reaches the server (which stores it) but its answer is lost; sending again
    carries the same key, so the server answers with that comment instead of storing another."""
    open_widget(page, live_server, EN)
    keys: list[str | None] = []
    page.on("request", lambda r: keys.append(r.headers.get("idempotency-key")) if r.method == "POST" else None)

    def lose_first_answer(route):
        if route.request.method != "POST" or len(keys) > 1:
            return route.continue_()
        route.fetch()  # the server stores the comment ...
        route.abort("connectionreset")  # ... and the answer never arrives

    page.route("**/api/v1/sites/demo/comments", lose_first_answer)
    fill_form(page, body=f"Sent on a bad connection. {unique}", name="Rami", email="rami@example.org")
    submit(page)
    expect(page.locator("p.form-err")).to_contain_text("could not be reached")
    with page.expect_response(lambda r: r.request.method == "POST") as resp:
        submit(page)  # the reader sends it again
    assert resp.value.status == 201 and resp.value.headers.get("idempotent-replayed") == "true"
    assert len(keys) == 2 and keys[0] == keys[1] and re.fullmatch(r"[0-9a-f-]{32,36}", keys[0])
    expect(comment_card(page, unique)).to_have_count(1)
    with live_server.app.app_context():
        from comment_service.models import Comment

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment).where(
            Comment.body_source.contains(unique))) == 1
        db.session.remove()
    # A new submission gets a new key.
    post_comment(page, f"A second, different comment. {unique}-2", name="Rami", email="rami@example.org")
    assert len(keys) == 3 and keys[2] != keys[0]
