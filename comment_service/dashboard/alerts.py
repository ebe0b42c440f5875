"""The job that sends a moderator's notice: claim it (services.notices.claim), draw it
(dashboard/mail.compose), hand it to the mail server (comment_service/mail.py), record the outcome.
A refused or unreachable server is retried after MAJLIS_MAIL_RETRY_SECONDS, then the notice is
failed (counted in /metrics); the job never carries an address, it reads it when it sends."""
from __future__ import annotations

import logging

from flask import current_app, g

from comment_service import jobs
from comment_service.dashboard import i18n
from comment_service.dashboard.mail import compose
from comment_service.mail import Mailer, MailError
from comment_service.models import utcnow
from comment_service.services import notices
from comment_service.services.sites import site_settings

log = logging.getLogger(__name__)


def mailer() -> Mailer:
    config = current_app.config
    return Mailer(config["MAJLIS_SMTP_URL"], config["MAJLIS_MAIL_DIR"])


@jobs.job("notices.send")
def send(notice_id: int) -> str | None:
    """One attempt at a notice; its outcome (None: nothing to send)."""
    notice = notices.claim(notice_id, utcnow())
    if notice is None:
        return None
    g.lang = notice.moderator.language or site_settings(notice.site)["language"]
    if g.lang not in i18n.LANGUAGES:
        g.lang = i18n.DEFAULT
    message = compose(notice)
    try:
        mailer().send(message)
    except MailError as err:
        retry_at = notices.failed_attempt(notice, str(err))
        if retry_at is not None:
            jobs.jobs().enqueue_quietly("notices.send", notice_id, eta=retry_at)
            return "retry"
        return "failed"
    notices.sent(notice_id)
    return "sent"
