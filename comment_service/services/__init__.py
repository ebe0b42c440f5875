"""Use cases, one function each. Each owns its transaction and writes audit rows in it."""
from comment_service.services.comments import (
    ThreadPage,
    public_comment,
    submit_comment,
    thread_counts,
    thread_key,
    thread_page,
)
from comment_service.services.identity import avatar_for, email_hmac, ip_hmac
from comment_service.services.sites import create_site, get_site, site_policy

__all__ = [
    "ThreadPage", "avatar_for", "create_site", "email_hmac", "get_site", "ip_hmac", "public_comment",
    "site_policy", "submit_comment", "thread_counts", "thread_key", "thread_page",
]
