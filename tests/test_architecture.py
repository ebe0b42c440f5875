"""The layers: the moderation domain stays plain Python (no web framework, no ORM), schemas import no
Flask, the API runs no SQL, no blueprint loads the CLI, blueprints are registered explicitly, and the
OpenAPI document is built only from the declarations on the views."""
from __future__ import annotations

import ast
import subprocess
import sys
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


# --- layers (issue 10) -----------------------------------------------------------------------------

ROOT = Path(moderation.__file__).parent.parent  # comment_service/


def _imports(path: Path) -> list[str]:
    """The modules a file imports (relative imports are not used in this code base)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_schemas_import_no_flask():
    """Schemas validate and shape data: marshmallow and the domain, nothing bound to a request or a database."""
    allowed = ("comment_service.schemas", "comment_service.moderation")
    for path in (ROOT / "schemas").glob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN - {"marshmallow"} | {"flask_smorest", "webargs", "apispec"}, \
                f"schemas/{path.name} imports {name}"
            if name.startswith("comment_service"):
                assert name.startswith(allowed), f"schemas/{path.name} imports {name}"


def test_no_module_under_api_runs_sql():
    """The API's views parse, call services and answer: the SQL is the services'."""
    runs_sql = set()
    for path in (ROOT / "api").glob("*.py"):
        text = path.read_text()
        if any(n.split(".")[0] in {"sqlalchemy", "flask_sqlalchemy"} or n == "comment_service.extensions.db"
               for n in _imports(path)) or "db.session" in text:
            runs_sql.add(path.name)
    assert not runs_sql, f"SQL in api/: {sorted(runs_sql)}"


def test_no_blueprint_imports_the_cli():
    """Importing any surface (its routes, views and everything they import) leaves the CLI unloaded."""
    code = ("import sys; import comment_service.api, comment_service.dashboard, comment_service.ops, "
            "comment_service.widget; print('comment_service.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT.parent)
    assert out.stdout.strip() == "False"


def test_blueprints_are_registered_explicitly():
    """No package registers routes by importing its view modules at its bottom (after defining the
    blueprint they import back): every package's imports come first, and create_app registers each
    blueprint (the API's and the probes' with the OpenAPI document)."""
    for path in ROOT.rglob("__init__.py"):
        body = ast.parse(path.read_text()).body
        first_other = next((i for i, node in enumerate(body) if not isinstance(node, ast.Import | ast.ImportFrom)
                            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))), len(body))
        late = [node.lineno for node in body[first_other:] if isinstance(node, ast.Import | ast.ImportFrom)]
        assert not late, f"{path.relative_to(ROOT.parent)} imports at line(s) {late}, after its definitions"


def test_the_document_is_built_only_from_the_views():
    """The OpenAPI document has one home, the declarations on the views (comment_service/contracts.py
    builds it): no module writes operations by hand or drives apispec itself."""
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        names = _imports(path)
        if rel != "contracts.py":
            assert not any(n.split(".")[0] == "apispec" for n in names), f"{rel} builds OpenAPI itself"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                assert not keys & {"operationId", "requestBody", "responses", "paths"}, \
                    f"{rel}:{node.lineno} writes an OpenAPI operation by hand"
