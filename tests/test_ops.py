"""Health probes, settings and the operator CLI."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import sqlalchemy as sa

from comment_service import create_app
from comment_service.models import Comment, Site, Thread
from config import settings
from config.settings import ProductionConfig, normalise_database_url, parse_bool
from tests.conftest import db_scalar

ROOT = Path(__file__).resolve().parent.parent


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_ok(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "checks": {"database": "ok", "rate_limit_store": "disabled"}}


def test_readyz_503_when_database_unreachable(tmp_path):
    app = create_app(test_config={"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.get_json() == {"status": "unavailable", "checks": {"database": "unavailable", "rate_limit_store": "disabled"}}


def test_production_refuses_to_start_without_secrets():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig({"DATABASE_URL": "postgresql://x/y"})
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        ProductionConfig({"SECRET_KEY": "k" * 40})
    with pytest.raises(RuntimeError, match="32 characters"):
        ProductionConfig({"SECRET_KEY": "short", "DATABASE_URL": "postgresql://x/y"})
    cfg = ProductionConfig({"SECRET_KEY": "k" * 40, "DATABASE_URL": "postgres://u@h/db"})
    assert cfg.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("value,expected", [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                            ("0", False), ("False", False), ("no", False), ("OFF", False)])
def test_boolean_settings_read_every_usual_spelling(value, expected):
    assert settings.TestingConfig({"MAJLIS_RATELIMIT_ENABLED": value}).RATELIMIT_ENABLED is expected
    assert parse_bool("X", value, not expected) is expected


@pytest.mark.parametrize("name", ["MAJLIS_RATELIMIT_ENABLED", "MAJLIS_METRICS_PUBLIC"])
def test_a_misspelt_boolean_refuses_to_start_naming_the_variable(name):
    """MAJLIS_RATELIMIT_ENABLED=ture used to read as false: every rate limit lifted, silently."""
    with pytest.raises(RuntimeError, match=f"{name} must be true or false.*'ture'"):
        settings.TestingConfig({name: "ture"})
    settings.TestingConfig({name: ""})  # empty: the default, no refusal


def _gunicorn_conf() -> dict:
    """deploy/gunicorn.conf.py's settings as gunicorn reads them (its module-level code, run here)."""
    return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))


@pytest.fixture
def conf_env(monkeypatch, tmp_path):
    """The variables gunicorn.conf.py sets for itself are put back after the test."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    return monkeypatch


@pytest.mark.parametrize("value,preload", [(None, True), ("0", False), ("off", False), ("yes", True)])
def test_gunicorn_reads_preload_as_the_app_reads_booleans(conf_env, value, preload):
    if value is None:
        conf_env.delenv("MAJLIS_PRELOAD", raising=False)
    else:
        conf_env.setenv("MAJLIS_PRELOAD", value)
    assert _gunicorn_conf()["preload_app"] is preload


def test_gunicorn_refuses_a_misspelt_preload(conf_env):
    """It was read as "on" for anything but 0/false/no/off: the same typo meant the opposite there."""
    conf_env.setenv("MAJLIS_PRELOAD", "flase")
    with pytest.raises(RuntimeError, match="MAJLIS_PRELOAD must be true or false"):
        _gunicorn_conf()


@pytest.mark.parametrize(
    "url,expected",
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_forms(url, expected):
    assert normalise_database_url(url) == expected


def test_sites_create_and_list(runner):
    r = runner.invoke(args=["sites", "create", "gazette", "--name", "The Gazette", "--origin", "https://gazette.example", "--mode", "post"])
    assert r.exit_code == 0, r.output
    assert "created site gazette (post-moderated)" in r.output
    r = runner.invoke(args=["sites", "list"])
    assert "gazette\tpost\tThe Gazette\thttps://gazette.example" in r.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["sites", "create", "Bad Slug", "--name", "x"], "lowercase"),
        (["sites", "create", "ok", "--name", "x", "--origin", "gazette.example"], "not an origin"),
        (["sites", "create", "ok", "--name", "x", "--mode", "sometimes"], "sometimes"),
    ],
)
def test_sites_create_rejects_bad_input(runner, args, message):
    r = runner.invoke(args=args)
    assert r.exit_code != 0 and message in r.output


def test_sites_create_refuses_duplicate(runner):
    runner.invoke(args=["sites", "create", "dup", "--name", "x"])
    r = runner.invoke(args=["sites", "create", "dup", "--name", "y"])
    assert r.exit_code != 0 and "already exists" in r.output


def test_demo_is_idempotent(app, runner, client):
    assert runner.invoke(args=["demo"]).exit_code == 0
    key_file = Path(app.config["MAJLIS_DEMO_KEY_FILE"])
    key = key_file.read_text().strip()
    assert runner.invoke(args=["demo", "--port", "8080"]).exit_code == 0
    assert key_file.read_text().strip() == key  # still valid: kept
    assert client.get("/api/v1/sites/demo/queues", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert db_scalar(sa.select(sa.func.count()).select_from(Site)) == 1
    assert db_scalar(sa.select(sa.func.count()).select_from(Thread)) == 1
    assert db_scalar(sa.select(sa.func.count()).select_from(Comment)) == 2
    site = db_scalar(sa.select(Site))
    assert "http://127.0.0.1:5000" in site.allowed_origins and "http://127.0.0.1:8080" in site.allowed_origins
    page = client.get("/api/v1/sites/demo/comments?thread=coalition-isis-africa").get_json()
    assert page["thread"]["title"] == "التحالف الدولي يدعو لمراقبة تحركات تنظيم الدولة"
    assert [c["parent_id"] for c in page["comments"]] == [None, page["comments"][0]["id"]]
