"""Webhook tests: a real receiver, the app's real queue run in the test (tests/jobs.py), short retries."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.receiver import Receiver, receiver


@pytest.fixture
def app_config() -> dict[str, Any]:
    # Retries wait nothing here (the default waits are tested on their own); timeouts are short.
    return {"MAJLIS_WEBHOOK_RETRY_SECONDS": (0, 0, 0, 0, 0, 0, 0), "MAJLIS_WEBHOOK_TIMEOUT": 1.0}


@pytest.fixture
def hook() -> Iterator[Receiver]:
    """A receiver answering 204."""
    with receiver() as r:
        yield r
