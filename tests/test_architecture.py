"""The moderation domain stays plain Python: no web framework, no ORM."""
from __future__ import annotations

import ast
from pathlib import Path

import comment_service.moderation as moderation

FORBIDDEN = {"flask", "sqlalchemy", "flask_sqlalchemy", "werkzeug", "marshmallow"}


def test_moderation_package_imports_no_framework():
    for path in Path(moderation.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_only_sanitize_imports_bleach():
    root = Path(moderation.__file__).parent.parent
    users = [p.relative_to(root).as_posix() for p in root.rglob("*.py") if "import bleach" in p.read_text() or "from bleach" in p.read_text()]
    assert users == ["moderation/sanitize.py"]


def test_only_the_entry_point_changes_a_comments_status_or_revision():
    """services/changes.py is the one way in (DESIGN.md section 3): nobody else writes an audit row or a
    comment's status or revision, and the actors and reasons are the domain's enums, not strings."""
    import re

    root = Path(moderation.__file__).parent.parent
    writes = re.compile(r"update\(Comment[^\n]*\)[\s\S]{0,300}?\.values\([^)]*\b(?:status|revision)\s*=")
    for path in root.rglob("*.py"):
        name = path.relative_to(root).as_posix()
        if name in {"services/changes.py", "models.py"}:
            continue
        text = path.read_text()
        assert "ModerationAction(" not in text and "actor_type=" not in text, f"{name} writes an audit row"
        assert not writes.search(text), f"{name} writes a comment's status or revision"
        assert not re.search(r"\.(?:status|revision)\s*(?:=|\+=)[^=]", text.replace("self.status", "")), \
            f"{name} sets a comment's status or revision"
