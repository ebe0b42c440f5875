"""Turn the services' moderator views into what a page shows: highlighted body, reasons in words."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from comment_service.dashboard import i18n
from comment_service.dashboard.blueprint import t
from comment_service.dashboard.render import has_invisible, highlight, matched_text
from comment_service.moderation.rules import ReasonCode

if TYPE_CHECKING:
    from comment_service.services.queues import ModeratorItem
    from comment_service.services.reports import ReportView
    from comment_service.services.site_admin import ItemContext


def _known(key: str) -> bool:
    return key in i18n.catalog(i18n.DEFAULT)


def reason_label(reason: dict[str, Any]) -> str:
    """A hold reason's name in the moderator's language (its code if we have no words for it)."""
    code = str(reason.get("code", ""))
    return t(f"reason_{code}") if _known(f"reason_{code}") else code


def rich(key: str, count: int | None = None, **values: Any) -> Markup:
    """A message whose interpolated values (words from the text, in any script) are each isolated in
    <bdi>, so an Arabic word inside an English sentence (or the reverse) cannot reorder it."""
    template = t(key, count, **{name: "{" + name + "}" for name in values})
    return Markup(escape(template)).format(**{k: Markup("<bdi>{}</bdi>").format(v) for k, v in values.items()})


def reason_detail(reason: dict[str, Any], body: str) -> Markup | str | None:
    """What exactly fired, in the moderator's language, from the reason's structured fields."""
    code = reason.get("code")
    detail = str(reason.get("detail") or "")
    if code in (ReasonCode.BANNED_WORD, ReasonCode.SUSPECT_WORD):
        matched = matched_text(body, reason)
        if matched and reason.get("entry"):
            return rich("reason_word_detail", entry=reason["entry"], matched=matched)
        return rich("reason_word_matched", matched=matched) if matched else None
    if code == ReasonCode.TOO_MANY_LINKS and "count" in reason:
        return t("reason_links_detail", count=int(reason["count"]), limit=int(reason["limit"]))
    if code == ReasonCode.REPORTED and "count" in reason:
        return t("reason_reported_detail", count=int(reason["count"]), threshold=int(reason["threshold"]))
    if code == "spam_score" and "score" in reason:
        return t("reason_spam_detail", score=reason.get("score"), threshold=reason.get("threshold"))
    if not _known(f"reason_{code}"):
        return detail or None
    return None


@dataclass(frozen=True)
class Card:
    """A moderator's item (services.queues.ModeratorItem) as a page shows it: the item's own fields
    (`card.status`, `card.author.email`...) plus the highlighted body, the reasons in words, the IP tag,
    the article's link and the reader reports."""

    item: ModeratorItem
    body: Markup
    reason_words: list[dict[str, Any]]
    invisible: bool
    ip_tag: str | None
    thread_url: str | None
    reports: list[ReportView]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.item, name)


def present(item: ModeratorItem, context: ItemContext | None = None) -> Card:
    """An item of a queue ready for the templates; `context` from services.site_admin.item_context."""
    body = item.body_source
    reasons = [r for r in item.reasons if isinstance(r, dict)]
    labels = [reason_label(r) for r in reasons]
    return Card(
        item=item,
        body=highlight(body, reasons, labels),
        reason_words=[{"label": label, "detail": reason_detail(r, body), "code": r.get("code"),
                       "marked": matched_text(body, r) is not None}
                      for r, label in zip(reasons, labels, strict=True)],
        invisible=has_invisible(body),
        ip_tag=((context.ip_hmac if context else None) or "")[:8] or None,
        thread_url=context.thread_url if context else None,
        reports=context.reports if context else [],
    )
