"""The demo: its site, its thread with two comments for the Arabic seed article, its moderator.

`flask demo` (cli.py) seeds it; the demo pages (widget/views.py) show it. Both take the names from here
(the pages without loading the services).
"""
from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

from comment_service.moderation.status import ModerationMode

if TYPE_CHECKING:
    from comment_service.models import Site

DEMO_SLUG = "demo"
DEMO_THREAD = "coalition-isis-africa"
DEMO_ORIGINS = ["http://127.0.0.1:{port}", "http://localhost:{port}"]
DEMO_MODERATOR = "moderator@demo.invalid"


def demo_article() -> tuple[str, str]:
    """The Arabic seed article: (headline, body)."""
    text = resources.files("comment_service.demo").joinpath("article_ar.txt").read_text("utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[1], "\n\n".join(lines[2:])


def seed_site(port: int) -> tuple[Site, bool, bool]:
    """The demo site (created post-moderated, or given this port's origins), and its thread with two
    comments on the first run; returns (site, site created?, thread created?)."""
    from comment_service import services  # the demo pages import this module for its names only
    from comment_service.services import comments, sites

    origins = [o.format(port=port) for o in DEMO_ORIGINS]
    site = sites.find_site(DEMO_SLUG)
    created = site is None
    if site is None:
        site = services.create_site(DEMO_SLUG, "Majlis demo", origins, ModerationMode.POST)
        sites.update_settings(site, {"language": "ar"})  # the article is Arabic; so are its moderators' emails
    else:
        sites.add_origins(site, origins)
    seeded = not comments.thread_exists(site, DEMO_THREAD)
    if seeded:
        title, _ = demo_article()
        first = services.submit_comment(site, _demo_comment(title, None, "سارة", "قراءة مهمة، شكرا على التغطية."), None)
        services.submit_comment(
            site, _demo_comment(title, first.comment["id"], "Omar", "Agreed — the Sahel part deserves more coverage."),
            None,
        )
    return site, created, seeded


def _demo_comment(title: str, parent: int | None, name: str, body: str) -> dict[str, Any]:
    return {
        "thread": DEMO_THREAD, "thread_title": title, "thread_url": None, "parent_id": parent,
        "author_name": name, "author_email": f"{name.lower()}@demo.invalid" if name.isascii() else "sara@demo.invalid",
        "author_url": None, "body": body,
    }
