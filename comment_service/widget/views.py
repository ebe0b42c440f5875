"""Serve the widget's scripts and the demo pages that embed them.

Cache policy: `/embed.js` and `/count.js` are the stable URLs a site pastes; they may change on
any deploy, so browsers keep them 5 minutes (then revalidate by ETag). `/widget/<name>.<hash>.<ext>`
names one version's bytes, so it is cached for a year, immutable; a hash that is not the current
one redirects (uncached) to the current file, so a page rendered before a deploy still works.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from comment_service.demo import DEMO_SLUG, DEMO_THREAD
from comment_service.widget import demo
from comment_service.widget.assets import NAMES, Asset, asset

bp = Blueprint("widget", __name__, template_folder="templates")
SHORT_MAX_AGE = 300
IMMUTABLE_MAX_AGE = 365 * 24 * 3600
HASHED = re.compile(r"^(?P<stem>[a-z]+)\.(?P<digest>[0-9a-f]{12})\.(?P<ext>js|css)$")

def _serve(item: Asset, max_age: int, immutable: bool) -> Response:
    """The file, gzipped when the client accepts it, with its cache headers and ETag."""
    gz = request.accept_encodings["gzip"] > 0
    resp = Response(item.gzipped if gz else item.body, content_type=item.mimetype)
    if gz:
        resp.content_encoding = "gzip"
    resp.vary.add("Accept-Encoding")
    resp.set_etag(item.digest + ("-gz" if gz else ""))
    resp.cache_control.public = True
    resp.cache_control.max_age = max_age
    resp.cache_control.immutable = immutable
    # Any site may load it, also with Subresource Integrity (crossorigin="anonymous").
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return resp.make_conditional(request)


@bp.get("/embed.js")
def embed_js():
    """The comment widget at its stable URL (short cache)."""
    return _serve(asset("embed.js"), SHORT_MAX_AGE, False)


@bp.get("/count.js")
def count_js():
    """The comment-count badges script at its stable URL (short cache)."""
    return _serve(asset("count.js"), SHORT_MAX_AGE, False)


@bp.get("/widget/<filename>")
def hashed_asset(filename: str):
    """One version of a widget file, named by its content hash (cached for a year)."""
    m = HASHED.match(filename)
    name = m and f"{m['stem']}.{m['ext']}"
    if not m or name not in NAMES:
        abort(404)
    current = asset(name)
    if m["digest"] != current.digest:
        resp = redirect(url_for("widget.hashed_asset", filename=current.hashed_name), 302)
        resp.cache_control.no_cache = True
        return resp
    return _serve(current, IMMUTABLE_MAX_AGE, True)


def asset_url(name: str) -> str:
    """The long-cached URL of a widget file's current version."""
    return url_for("widget.hashed_asset", filename=asset(name).hashed_name)


@bp.app_context_processor
def _helpers() -> dict:
    return {"asset_url": asset_url}


def _page(template: str, **context) -> Response:
    """A demo page; its CSP is security_headers.DEMO_CSP (it lists these pages' endpoints)."""
    resp = Response(render_template(template, **context))
    resp.cache_control.no_cache = True
    return resp


@bp.get("/")
def demo_ar():
    """The Arabic seed article, right to left, with the widget under it."""
    return _page("widget/article.html", article=demo.arabic_article(), lang="ar", dir="rtl",
                 site=DEMO_SLUG, thread=DEMO_THREAD)


@bp.get("/demo/en")
def demo_en():
    """A short English article, left to right, with the widget under it."""
    return _page("widget/article.html", article=demo.english_article(), lang="en", dir="ltr",
                 site=DEMO_SLUG, thread=demo.EN_THREAD)


@bp.get("/demo/list")
def demo_list():
    """An article list whose comment counts count.js fills in one request."""
    items = [
        (url_for("widget.demo_ar"), demo.arabic_article().headline, DEMO_THREAD, "ar"),
        (url_for("widget.demo_en"), demo.english_article().headline, demo.EN_THREAD, "en"),
        ("#", "أرشيف: مقال بلا تعليقات", "archive-no-comments", "ar"),
    ]
    return _page("widget/list.html", items=items, site=DEMO_SLUG, lang="ar", dir="rtl")
