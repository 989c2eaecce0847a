"""E-mail over SMTP (smtplib): HTML and text, in the recipient's language, absolute links.

Templates are ``notifications/email/notification.html`` (autoescaped, SECURITY.md 1.2.1) and
``.txt``; they are rendered straight from the Jinja environment, without the page context
processors, because a worker has no request. Header values never carry CR/LF (SECURITY.md 1.3.11).
"""

from __future__ import annotations

import base64
import secrets
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.utils import formatdate, make_msgid, parseaddr

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from caseapp.notifications.channels import DeliveryError, Job
from caseapp.notifications.messages import render

GREETING = _l("Yth. %(name)s,")
OPEN_LINK = _l("Buka di Sinergi")
FOOTER = _l("Anda menerima e-mail ini karena pengaturan notifikasi Anda di Sinergi. Ubah pengaturan di:")
SIGNATURE = _l("Sinergi · TKPK Kota Kediri")

SUPPORTED_LOCALES = ("id", "en")


def header_safe(value: str, limit: int = 250) -> str:
    """One line: CR, LF and other control characters become spaces (no header injection)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return " ".join(cleaned.split())[:limit]


def absolute_link(base_url: str, link: str | None) -> str:
    """``PUBLIC_BASE_URL`` + a local path; anything that is not a local path becomes the home page."""
    path = link if link and link.startswith("/") and not link.startswith("//") and "\\" not in link else "/"
    return base_url.rstrip("/") + path


def locale_of(job: Job) -> str:
    return job.locale if job.locale in SUPPORTED_LOCALES else "id"


@dataclass(frozen=True)
class Outgoing:
    """A composed message: envelope addresses and the bytes sent after DATA."""

    sender: str
    recipient: str
    data: bytes


def compose(job: Job, config: Mapping) -> Outgoing:
    """The message for *job*: subject and both bodies (text, HTML) in the recipient's locale.

    The MIME structure is fixed (multipart/alternative, two UTF-8 base64 parts), so it is written
    directly: the ``email`` package re-parses and refolds every header, which made composing the
    slowest step of a batch. Every header value goes through :func:`header_safe` first.
    """
    base_url = config["PUBLIC_BASE_URL"]
    with force_locale(locale_of(job)):
        rendered = render(job.kind, job.payload)
        context = {
            "lang": locale_of(job),
            "greeting": str(GREETING % {"name": job.full_name}),
            "title": rendered.title,
            "body": rendered.body,
            "items": rendered.items,
            "link": absolute_link(base_url, job.link),
            "open_link": str(OPEN_LINK),
            "footer": str(FOOTER),
            "preferences_link": absolute_link(base_url, "/notifications/preferences"),
            "signature": str(SIGNATURE),
        }
        env = current_app.jinja_env
        text = env.get_template("notifications/email/notification.txt").render(context)
        html = env.get_template("notifications/email/notification.html").render(context)
    from_header = header_safe(config.get("MAIL_FROM") or "sinergi@localhost")
    sender = parseaddr(from_header)[1] or "sinergi@localhost"
    recipient = header_safe(job.email)
    boundary = f"=_sinergi_{secrets.token_hex(12)}"
    headers = [
        ("Subject", _encoded(f"[Sinergi] {rendered.title}")),
        ("From", _encoded(from_header)),
        ("To", recipient),
        ("Date", formatdate(usegmt=True)),
        # A stable id per delivery lets a mail server (or a reader) spot a duplicate.
        ("Message-ID", make_msgid(idstring=f"delivery-{job.delivery_id}",
                                  domain=sender.rpartition("@")[2] or "sinergi.local")),
        ("X-Sinergi-Delivery", str(job.delivery_id)),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    lines = [f"{name}: {value}" for name, value in headers]
    for subtype, content in (("plain", text), ("html", html)):
        lines += ["", f"--{boundary}", f"Content-Type: text/{subtype}; charset=utf-8",
                  "Content-Transfer-Encoding: base64", "", _base64(content)]
    lines += [f"--{boundary}--", ""]
    return Outgoing(sender=sender, recipient=recipient, data="\r\n".join(lines).encode("ascii"))


def _encoded(value: str) -> str:
    """An RFC 2047 encoded-word when the value is not plain ASCII (names, Indonesian words)."""
    value = header_safe(value, limit=500)
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")


def _base64(content: str) -> str:
    return base64.encodebytes(content.encode("utf-8")).decode("ascii").rstrip("\n").replace("\n", "\r\n")


class SmtpSender:
    """One SMTP session for a batch of messages; opened on the first send."""

    def __init__(self, config: Mapping) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        host, port = self.config["SMTP_HOST"], int(self.config.get("SMTP_PORT") or 25)
        try:
            smtp = smtplib.SMTP(host, port, timeout=float(self.config.get("SMTP_TIMEOUT") or 10))
            if self.config.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if self.config.get("SMTP_USER"):
                smtp.login(self.config["SMTP_USER"], self.config.get("SMTP_PASSWORD") or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused: {exc.smtp_code}", breaks_batch=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP server {host}:{port} unavailable: {exc}", breaks_batch=True) from exc
        return smtp

    def send(self, job: Job) -> None:
        message = compose(job, self.config)
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                self._smtp.sendmail(message.sender, [message.recipient], message.data)
                return
            except smtplib.SMTPServerDisconnected as exc:
                # The server may close an idle or long session: reconnect once for this message.
                self._smtp = None
                if attempt == 2:
                    raise DeliveryError(f"SMTP connection lost: {exc}", breaks_batch=True) from exc
            except smtplib.SMTPRecipientsRefused as exc:
                code = min((answer[0] for answer in exc.recipients.values()), default=550)
                raise DeliveryError(f"SMTP refused the recipient: {code}", permanent=code >= 500) from exc
            except smtplib.SMTPResponseException as exc:
                raise DeliveryError(f"SMTP error {exc.smtp_code}: {exc.smtp_error!r}"[:300],
                                    permanent=exc.smtp_code >= 500, breaks_batch=exc.smtp_code < 500) from exc
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                raise DeliveryError(f"SMTP failure: {exc}", breaks_batch=True) from exc

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
