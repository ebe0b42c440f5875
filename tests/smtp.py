"""A real SMTP server for mail tests (aiosmtpd on a free loopback port): it keeps what arrives, or
refuses as the test tells it (a code for every RCPT or DATA), and can be stopped and started again
on the same port (a server that is down, then back)."""
from __future__ import annotations

import contextlib
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.netfaults import free_port


@dataclass
class Mailbox:
    """What the server got (parsed), and how it answers: `refuse_rcpt` / `refuse_data` ("550 No")."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # each message as it came over the wire
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse_rcpt: str | None = None
    refuse_data: str | None = None
    arrived: threading.Condition = field(default_factory=threading.Condition)
    controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"the SMTP server got {len(self.messages)} of {count} messages"
                self.arrived.wait(left)
            return list(self.messages[:count])

    # aiosmtpd's handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.refuse_data:
            return self.refuse_data
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self.raw.append(envelope.original_content or envelope.content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.arrived.notify_all()
        return "250 Message accepted"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextlib.contextmanager
def smtp_server(start: bool = True) -> Iterator[Mailbox]:
    """A Mailbox served on a free port until the block ends (`start=False`: the port is closed until `start()`)."""
    box = Mailbox(port=free_port())
    if start:
        box.start()
    try:
        yield box
    finally:
        box.stop()
