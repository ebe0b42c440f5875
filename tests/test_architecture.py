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
