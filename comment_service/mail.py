"""Sending one email: over SMTP when MAJLIS_SMTP_URL is set, else written as an .eml file.

    smtp://user:pass@host:587        plain SMTP (STARTTLS if the server offers it)
    smtp+starttls://user:pass@host   STARTTLS required (refused if the server does not offer it)
    smtps://user:pass@host:465       TLS from the first byte

Without a URL (the `make run` demo) each message is written to MAJLIS_MAIL_DIR (instance/outbox/)
as <Message-ID>.eml and the log says where, so nothing is lost and anyone can open it. A failure
to send raises MailError: the caller's job keeps the message and tries again later. The user name
and password are percent-decoded from the URL; neither is ever logged.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from comment_service.moderation.privacy import redact

log = logging.getLogger(__name__)

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# CRLF line ends, and headers folded only past RFC 5322's hard limit: the default 78 columns make
# a long header without spaces (List-Unsubscribe's <https://…/token>) an RFC 2047 encoded word,
# which no mail client reads as a URL.
WIRE = policy.SMTP.clone(max_line_length=998)


class MailError(Exception):
    """The message could not be handed over (refused, unreachable, timed out); a short reason."""


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """Read MAJLIS_SMTP_URL; ValueError (naming the variable, never the password) otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError("MAJLIS_SMTP_URL must be smtp://, smtp+starttls:// or smtps://[user:pass@]host[:port]")
        try:
            port = parts.port or SCHEMES[parts.scheme]
        except ValueError:
            raise ValueError("MAJLIS_SMTP_URL has a port that is not a number") from None
        return cls(parts.scheme, parts.hostname, port, unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def shown(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class Mailer:
    """Hands messages to the SMTP server, or to files when there is none."""

    def __init__(self, smtp_url: str | None, directory: str | Path, timeout: float = 10.0) -> None:
        self.server = SmtpServer.parse(smtp_url) if smtp_url else None
        self.directory = Path(directory)
        self.timeout = timeout

    def send(self, message: EmailMessage) -> str:
        """Send (or write) one message; where it went. MailError when it could not be."""
        message.policy = WIRE
        if self.server is None:
            return self._write(message)
        server = self.server
        try:
            if server.scheme == "smtps":
                client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if server.scheme == "smtp+starttls" or (server.scheme == "smtp" and client.has_extn("starttls")):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if server.user:
                    client.login(server.user, server.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as err:
            raise MailError(_reason(err)) from None
        return server.shown()

    def _write(self, message: EmailMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = (message["Message-ID"] or "message").strip("<>").replace("/", "_") + ".eml"
        path = self.directory / name
        path.write_bytes(message.as_bytes())
        log.info("mail: no MAJLIS_SMTP_URL; message written to %s", path)
        return str(path)


def _reason(err: BaseException) -> str:
    """Why, in a line that names no address: servers quote the recipient ("550 <a@b>: unknown")."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _ in err.recipients.values()})
        return f"recipient refused ({', '.join(codes)})"
    if isinstance(err, smtplib.SMTPResponseException):
        text = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
        return redact(f"{err.smtp_code} {text}")[:200]
    return redact(f"{type(err).__name__}: {err}")[:200]
