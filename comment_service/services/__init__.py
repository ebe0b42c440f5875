"""Use cases, one function each. Each owns its transaction; every change to a comment goes through
services.changes, which writes its audit row and event in it."""
# The outbox subscribes to every change, and its consumers (webhooks, moderators' notices) and their
# jobs are registered, once the services are loaded, by the web processes and the worker alike.
from comment_service.services import notices as _notices  # noqa: F401
from comment_service.services import webhooks as _webhooks  # noqa: F401
from comment_service.services.comments import Submitted, replayed, submit_comment
from comment_service.services.identity import avatar_for, email_hmac, ip_hmac
from comment_service.services.reading import ThreadPage, public_comment, site_counts, thread_page
from comment_service.services.sites import create_site, get_site, site_policy

__all__ = [
    "Submitted", "ThreadPage", "avatar_for", "create_site", "email_hmac", "get_site", "ip_hmac", "public_comment",
    "replayed", "site_counts", "site_policy", "submit_comment", "thread_page",
]
