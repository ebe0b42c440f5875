"""The emails moderators get (services/notices.py decides who gets what, and when): a held comment
with its Approve / Reject / Spam links, a comment readers reported, a digest of what waits, a breach
of the queue's time limit. `compose` draws one, in `g.lang` (the send job, dashboard/alerts.py, sets
it to the moderator's language, else the site's), as text and HTML (multipart/alternative).

The templates are templates/dashboard/mail_<kind>.txt and .html (the HTML autoescaped, as every
.html template of the app is; the text ones are not, and are given plain text only). The HTML has
its style inline, since mail clients drop <style>, and is right to left in Arabic.

What a moderator sees of a comment is what the dashboard shows (present.present: the reasons in
words, the rules' spans marked) except the author's email address and network: an email is
forwarded, kept and scanned, so those stay in the dashboard. A decision link opens a confirmation
page (views_alerts.act): nothing changes until its button is pressed there.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

from flask import current_app, g, render_template
from markupsafe import Markup

from comment_service.dashboard import i18n
from comment_service.dashboard.blueprint import t
from comment_service.dashboard.present import Card, present
from comment_service.models import utcnow
from comment_service.moderation.alerts import DIGEST
from comment_service.moderation.status import Action, Queue
from comment_service.services import action_links, notices, queues, reports
from comment_service.services.notices import Notice
from comment_service.services.sites import site_settings

KINDS = ("held", "reported", "digest", "sla")
EXCERPT = 200  # characters of each comment a digest shows
REPORTS_SHOWN = 10
# Inline styles (mail clients keep `style` attributes, not <style> elements).
MARK_STYLE = "background:#ffe08a;color:inherit;border-bottom:2px solid #d79b00;padding:0 1px"
BUTTON_STYLES = {
    Action.APPROVE: "background:#0b6e4f;color:#ffffff;border:1px solid #0b6e4f",
    Action.REJECT: "background:#ffffff;color:#a4262c;border:1px solid #a4262c",
    Action.SPAM: "background:#ffffff;color:#3c4043;border:1px solid #5f6368",
}


def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def links(notice: Notice, public_url: str) -> dict[str, str]:
    """The message's links: each decision's confirmation page (held), the comment's dashboard page,
    the pending queue ("dashboard"), the moderator's alerts page, one-click unsubscribe."""
    site = f"{public_url}/dashboard/sites/{notice.site.slug}"
    out = {"dashboard": f"{site}/queues/{Queue.PENDING.value}",
           "reported": f"{site}/queues/{Queue.REPORTED.value}",
           "account": f"{public_url}/dashboard/account/alerts",
           "unsubscribe": f"{public_url}/dashboard/alerts/off/"
                          f"{action_links.unsubscribe_token(notice.moderator.id, notice.site.id)}"}
    if notice.comment is not None:
        out["comment"] = f"{site}/comments/{notice.comment.id}"
    if notice.kind == "held" and notice.comment is not None:
        for action in action_links.ACTIONS:
            token = action_links.decision_token(notice.moderator.id, notice.site.id, notice.comment.id,
                                                notice.comment.revision, action)
            out[action.value] = f"{public_url}/dashboard/act/{token}"
    return out


def one_line(text: str) -> str:
    """Text for a header: any run of whitespace (a line break would end the header) one space."""
    return " ".join(str(text).split())


def plain(value: Markup | str | None) -> str:
    """A message the pages show as markup (words isolated in <bdi>), as plain text."""
    if value is None:
        return ""
    return value.striptags() if isinstance(value, Markup) else str(value)


def when(moment: datetime | None) -> str:
    """A time as an email shows it (it is read later, anywhere): UTC, to the minute."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""


def excerpt(text: str, length: int = EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length].rstrip() + "…"


def inline_marks(body: Markup) -> Markup:
    """The highlighted body (render.highlight) with its marks styled inline. Every character of the
    comment is escaped there, so `<mark ` can only be one of ours."""
    return Markup(str(body).replace("<mark ", f'<mark style="{MARK_STYLE}" '))


def _reasons(card: Card) -> list[dict[str, Any]]:
    """The reasons in words, for both parts: `detail` as the page shows it, `text` plain."""
    out = [{"label": r["label"], "detail": r["detail"], "text": plain(r["detail"])} for r in card.reason_words]
    if card.invisible:
        out.append({"label": t("reason_invisible"), "detail": None, "text": ""})
    return out


def _comment(notice: Notice) -> dict[str, Any]:
    """The comment as moderators see it now (queues.moderator_item: the dashboard's view)."""
    assert notice.comment is not None
    card = present(queues.moderator_item(notice.site, notice.comment.id))
    return {"item": card, "body_html": inline_marks(card.body), "reasons": _reasons(card)}


def _held(notice: Notice, urls: dict[str, str], say: Callable[..., str]) -> dict[str, Any]:
    actions = [{"action": a.value, "label": say(f"action_{a.value}"), "url": urls[a.value],
                "style": BUTTON_STYLES[a]} for a in action_links.ACTIONS]
    return {**_comment(notice), "actions": actions, "lifetime": i18n.duration(
        g.get("lang", i18n.DEFAULT), action_links.LIFETIME.total_seconds())}


def _reported(notice: Notice, urls: dict[str, str], say: Callable[..., str]) -> dict[str, Any]:
    context = _comment(notice)
    open_reports = [r for r in reports.comment_reports(notice.site, context["item"].id) if not r.resolved]
    return {**context, "reports": open_reports[:REPORTS_SHOWN], "report_count": len(open_reports),
            "more_reports": max(0, len(open_reports) - REPORTS_SHOWN)}


def _digest(notice: Notice, urls: dict[str, str], say: Callable[..., str]) -> dict[str, Any]:
    comments, total = notices.digest_comments(notice.site.id)
    ids = [c.id for c in comments]
    items = sorted(queues.moderator_items(notice.site, ids), key=lambda i: i.id) if ids else []
    base = urls["dashboard"].rpartition("/queues/")[0]
    entries = [{"item": card, "excerpt": excerpt(card.body_source), "url": f"{base}/comments/{card.id}",
                "labels": [r["label"] for r in card.reason_words]} for card in map(present, items)]
    every = notice.membership.digest_minutes if notice.membership.alerts == DIGEST else None
    return {"entries": entries, "total": total, "more": max(0, total - len(entries)),
            "every": i18n.duration(g.get("lang", i18n.DEFAULT), every * 60) if every else None}


def _sla(notice: Notice, urls: dict[str, str], say: Callable[..., str]) -> dict[str, Any]:
    lang, now = g.get("lang", i18n.DEFAULT), utcnow()
    minutes = site_settings(notice.site)["sla_minutes"]
    oldest = queues.oldest_pending(notice.site.id)
    return {"limit": i18n.duration(lang, minutes * 60) if minutes else None,
            "waited": i18n.duration(lang, (now - oldest).total_seconds()) if oldest else None,
            "oldest_at": oldest, "since": notice.site.sla_breached_at,
            "pending": queues.queue_counts(notice.site, now).counts[Queue.PENDING.value]}


_DRAW = {"held": _held, "reported": _reported, "digest": _digest, "sla": _sla}


def _kind(notice: Notice) -> str:
    """What the message is about: a held or reported notice whose comment is gone is a digest."""
    if notice.kind in ("held", "reported") and notice.comment is None:
        return "digest"
    return notice.kind if notice.kind in KINDS else "digest"


def subject(kind: str, site_name: str, say: Callable[..., str], context: dict[str, Any]) -> str:
    """The Subject: the site in brackets, then what happened (translated)."""
    what = say("mail_waiting", count=context["total"]) if kind == "digest" else say(f"mail_subject_{kind}")
    return one_line(f"[{site_name}] {what}")


def why(kind: str, site_name: str, say: Callable[..., str], context: dict[str, Any]) -> str:
    """Why this moderator gets this email (the footer, above the links to change it)."""
    if kind == "sla":
        return say("mail_why_sla", site=site_name)
    if kind == "digest":
        return say("mail_why_digest", site=site_name, every=context["every"]) if context["every"] else \
            say("mail_why_site", site=site_name)
    return say("mail_why_each", site=site_name)


def compose(notice: Notice) -> EmailMessage:
    """The notice's message, ready to send, in g.lang: a text part and an HTML part."""
    config = current_app.config
    sender, public_url = config["MAJLIS_MAIL_FROM"], config["MAJLIS_PUBLIC_URL"]
    urls = links(notice, public_url)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notice.moderator.email  # read now, never carried by the job
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<majlis.notice.{notice.id}@{_domain(sender)}>"
    message["List-Unsubscribe"] = f"<{urls['unsubscribe']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"

    lang = g.get("lang") if g.get("lang") in i18n.LANGUAGES else i18n.DEFAULT
    g.lang = lang  # present() and the reasons' words speak it too

    def say(key: str, count: int | None = None, **values: Any) -> str:
        return i18n.translate(lang, key, count, **values)

    kind = _kind(notice)
    context: dict[str, Any] = {
        "_": say, "lang": lang, "dir": "rtl" if lang in i18n.RTL else "ltr",
        "start": "right" if lang in i18n.RTL else "left", "kind": kind, "site": notice.site,
        "moderator": notice.moderator, "alerts": notice.membership.alerts, "urls": urls, "when": when,
        **_DRAW[kind](notice, urls, say),
    }
    context["why"] = why(kind, notice.site.name, say, context)
    context["subject"] = message["Subject"] = subject(kind, notice.site.name, say, context)
    message.set_content(render_template(f"dashboard/mail_{kind}.txt", **context))
    message.add_alternative(render_template(f"dashboard/mail_{kind}.html", **context), subtype="html")
    return message
