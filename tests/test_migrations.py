"""The schema comes from Alembic migrations: upgrade from empty works and matches the models."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from comment_service import create_app
from comment_service.extensions import db
from tests.conftest import scratch_database


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new schema in the PostgreSQL test database."""
    with scratch_database(tmp_path, "mig") as url:
        yield url


def test_upgrade_from_empty_matches_models_and_downgrades(empty_database_url):
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert {"site", "thread", "comment", "moderation_action", "alembic_version"} <= tables
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_read_path_index_is_used(ctx, client, site):
    """The public read is an index range scan on (thread_id, id), not a table scan."""
    from tests.conftest import post

    for i in range(3):
        post(client, body=f"c{i}")
    with ctx:
        if db.engine.dialect.name == "sqlite":
            plan = db.session.execute(
                sa.text(
                    "EXPLAIN QUERY PLAN SELECT id FROM comment WHERE thread_id = 1 "
                    "AND status IN ('published', 'approved') ORDER BY id LIMIT 101"
                )
            ).all()
            assert any("ix_comment_thread_visible" in str(row) for row in plan), plan
        else:
            db.session.execute(sa.text("SET enable_seqscan = off"))
            plan = db.session.execute(
                sa.text(
                    "EXPLAIN SELECT id FROM comment WHERE thread_id = 1 "
                    "AND status IN ('published', 'approved') ORDER BY id LIMIT 101"
                )
            ).all()
            assert any("ix_comment_thread_visible" in str(row) for row in plan), plan
            db.session.rollback()


def test_claims_move_to_their_table_and_back(empty_database_url):
    """0005 carries the leases held on comment rows into the claim table; its downgrade puts them back."""
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": empty_database_url})
    until = "2030-01-01 12:00:00+00:00"
    with app.app_context():
        upgrade(revision="0004")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO site (id, slug, name, allowed_origins, moderation_mode, settings, "
                                 "created_at) VALUES (1, 's', 'S', '[]', 'pre', '{}', :t)"), {"t": until})
            conn.execute(sa.text("INSERT INTO thread (id, site_id, key, closed, comment_count, version, created_at) "
                                 "VALUES (1, 1, 'k', false, 0, 0, :t)"), {"t": until})
            for cid, who in ((1, "key:mjl_a/amal"), (2, None)):
                conn.execute(sa.text(
                    "INSERT INTO comment (id, site_id, thread_id, author_name, avatar, body_source, body_html, status, "
                    "revision, hold_reasons, open_reports, claimed_by, claim_expires_at, created_at) "
                    "VALUES (:id, 1, 1, 'A', 'x', 'b', '<p>b</p>', 'pending', 1, '[]', 0, :who, :until, :t)"),
                    {"id": cid, "who": who, "until": until if who else None, "t": until})
        upgrade(revision="0005")
        with db.engine.connect() as conn:
            claims = conn.execute(sa.text("SELECT comment_id, site_id, claimed_by FROM claim")).all()
            assert [tuple(c) for c in claims] == [(1, 1, "key:mjl_a/amal")]
            assert "claimed_by" not in {c["name"] for c in sa.inspect(conn).get_columns("comment")}
        downgrade(revision="0004")
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, claimed_by, claim_expires_at FROM comment ORDER BY id")).all()
            assert [(r[0], r[1]) for r in rows] == [(1, "key:mjl_a/amal"), (2, None)]
            assert rows[0][2] is not None and rows[1][2] is None
            assert "claim" not in sa.inspect(conn).get_table_names()
        db.engine.dispose()
