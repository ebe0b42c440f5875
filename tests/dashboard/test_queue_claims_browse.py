"""Browsing decided comments holds nothing; work queues claim what the moderator sees."""
from __future__ import annotations

import sqlalchemy as sa

from comment_service.models import Claim, Comment
from tests.conftest import db_run, db_scalar


def _claimed() -> int:
    return db_scalar(sa.select(sa.func.count()).select_from(Claim))


def test_approved_queue_is_browsed_without_claims(signed_in, held):
    db_run(sa.update(Comment).values(status="approved"))
    r = signed_in.get("/dashboard/sites/news/queues/approved")
    assert r.status_code == 200
    assert _claimed() == 0


def test_pending_queue_claims_what_it_shows(signed_in, held):
    assert signed_in.get("/dashboard/sites/news/queues/pending").status_code == 200
    assert _claimed() == len(held)
