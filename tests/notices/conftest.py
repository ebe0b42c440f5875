"""Moderators' notices: a real SMTP server (tests/smtp.py), the app's real queue run in the test."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.smtp import Mailbox, smtp_server


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def app_config(mailbox: Mailbox) -> dict[str, Any]:
    return {"MAJLIS_SMTP_URL": mailbox.url, "MAJLIS_MAIL_FROM": "Majlis <alerts@majlis.example>",
            "MAJLIS_MAIL_RETRY_SECONDS": (0, 0, 0), "MAJLIS_PUBLIC_URL": "https://comments.example"}
