"""Delivering one message: email over SMTP (smtplib) and Slack incoming webhooks (urllib).

Every failure becomes a DeliveryError saying what to fix, whether the endpoint is down (so the
sender stops trying it for this pass) and, for Slack's 429, how long Slack asked to wait."""

from __future__ import annotations

import email.utils
import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from quinto.errors import QuintoError
from quinto.spec import interpolate
from quinto.store.common import utcnow

TIMEOUT_S = 30.0


class DeliveryError(QuintoError):
    """A message was not delivered; it stays in the outbox and is tried again."""

    def __init__(self, message: str, *, down: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.down = down  # the endpoint is unreachable, or rate-limits: try nothing else there now
        self.retry_after = retry_after  # seconds the endpoint asked us to wait


def _secret(template: str, what: str) -> str:
    try:
        return interpolate(template, what)
    except QuintoError as exc:
        raise DeliveryError(exc.message, down=True) from None


def smtp_settings(smtp: Mapping[str, Any]) -> dict[str, Any]:
    """The `smtp:` settings with ${VAR} read from the environment now."""
    return {k: _secret(v, f"smtp.{k}") if isinstance(v, str) and "${" in v else v for k, v in smtp.items()}


def send_email(
    smtp: Mapping[str, Any],
    recipients: list[str],
    subject: str,
    text: str,
    html: str,
    message_id: str,
    timeout: float = TIMEOUT_S,
) -> list[str]:
    """One email with a plain-text and an HTML part to every recipient; returns the recipients the
    server refused while accepting the others (the message was sent: retrying would duplicate it).
    Text settings may use ${VAR}, read from the environment now."""
    smtp = smtp_settings(smtp)
    host, port = smtp.get("host"), int(smtp.get("port") or 587)
    if not host:
        raise DeliveryError("email alerts need `smtp.host` in quinto.yaml", down=True)
    where = f"SMTP {host}:{port}"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = smtp.get("from") or "quinto@localhost"
    msg["To"] = ", ".join(recipients)
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = message_id  # the same for a resend, so mail clients can fold a duplicate
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    password = smtp.get("password")
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as conn:
            if smtp.get("starttls", True):
                conn.starttls(context=ssl.create_default_context())
            if smtp.get("user"):
                conn.login(smtp["user"], password or "")
            refused = conn.send_message(msg, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"{where} refused the login of {smtp.get('user')!r}: {_reply(exc)}", down=True) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(f"{where}: {exc}; set `smtp.starttls: false` if it offers no TLS", down=True) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"{where} refused every recipient: {', '.join(exc.recipients)}") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"{where} answered {exc.smtp_code}: {_reply(exc)}", down=exc.smtp_code < 500) from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise DeliveryError(f"cannot reach {where}: {reason}", down=True) from None
    return sorted(refused)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    err = exc.smtp_error
    return (err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)).strip()


def post_slack(url_template: str, channel: str, payload: Mapping[str, Any], timeout: float = TIMEOUT_S) -> None:
    """POST Block Kit JSON to a channel's incoming webhook."""
    url = _secret(url_template, f"Slack channel '{channel}'")
    if not url.startswith(("https://", "http://")):
        raise DeliveryError(f"the webhook of Slack channel '{channel}' is not an http(s) URL", down=True)
    host = urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[-1]  # never print the URL: its path is the secret
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked above
            response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode("utf-8", "replace").strip()
        what = f"Slack ({host}) answered {exc.code} for {channel}" + (f": {body}" if body else "")
        if exc.code == 429:
            raise DeliveryError(what, down=True, retry_after=_retry_after(exc.headers.get("Retry-After"))) from None
        raise DeliveryError(what, down=exc.code >= 500) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DeliveryError(f"cannot reach Slack ({host}) for {channel}: {reason}", down=True) from None


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utcnow()).total_seconds())
