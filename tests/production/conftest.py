"""The production stack (deploy/stack.sh: nginx in front of gunicorn), started once for the package.

Skipped with the reason where nginx is not installed; CI (.ci/run sets MAJLIS_REQUIRE_STACK) fails
instead. The stack runs with MAJLIS_ENV=production on a database of its own: a temporary SQLite
file, or a fresh schema in TEST_DATABASE_URL (PostgreSQL), dropped afterwards.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.production.stack import NGINX, ProductionStack, started

FIGURES: list[str] = []  # measurements the tests report, printed at the end of the run


@pytest.fixture(scope="package")
def stack() -> Iterator[ProductionStack]:
    """nginx + gunicorn on a free 127.0.0.1 port, seeded with the demo site."""
    if NGINX is None:
        missing = pytest.fail if os.environ.get("MAJLIS_REQUIRE_STACK") else pytest.skip
        missing("nginx is not installed (apt-get install nginx-light); the production stack cannot run")
    with started(TEST_DATABASE_URL) as running:
        yield running


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the stack tests measured (CI's log keeps the figures)."""
    for line in FIGURES:
        terminalreporter.write_line(f"production stack: {line}")
