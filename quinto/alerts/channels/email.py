"""Email: `email:owners` (the owners that are email addresses) or `email:name@example.com`, sent
over SMTP with a plain-text and an HTML part; the `smtp:` section of quinto.yaml says how.

All the email addresses of a table's targets share one message; a digest goes to each on its own.
A resend keeps the Message-ID, so mail clients fold the duplicate."""

from __future__ import annotations

import email.utils
import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from quinto.alerts.channels.base import TIMEOUT_S, Channel, Delivery, DeliveryError, Outgoing, expand
from quinto.alerts.render import (
    by_partition,
    detail,
    headline,
    history,
    incident_link,
    label,
    partition_url,
    top_values,
)
from quinto.errors import did_you_mean
from quinto.settings import Setting
from quinto.spec.targets import EMAIL

if TYPE_CHECKING:
    import smtplib


class Email(Channel):
    name = "email"
    title = "email"
    forms = ("email:owners", "email:name@example.com")
    section = "smtp"
    named = False
    keys: ClassVar[tuple[Setting, ...]] = (
        Setting("host", None, str, "SMTP server that sends alert emails (none: email alerts are not sent)."),
        Setting("port", 587, int, "SMTP port.", kind="port"),
        Setting("starttls", True, bool, "Upgrade the connection with STARTTLS before logging in."),
        Setting("user", None, str, "Login user (none: no login)."),
        Setting(
            "password", None, str, "Login password, from the environment only, e.g. `${SMTP_PASSWORD}`.", kind="secret"
        ),
        Setting("from", "quinto@localhost", str, "The From address of alert emails.", kind="email"),
    )
    help = "Email delivery of alerts: the `smtp.*` keys."

    def parse_address(self, address: str) -> str:
        if address == "owners" or EMAIL.match(address):
            return address
        raise ValueError(f"'{address}' is neither an email address nor 'owners'{did_you_mean(address, ['owners'])}")

    def check_address(self, address: str, owners: Sequence[str]) -> str | None:
        if address == "owners" and not any(EMAIL.match(o) for o in owners):
            return "email:owners needs `owners:` with at least one email address"
        return None

    def guess(self, raw: str) -> tuple[int, str] | None:
        if raw == "owners":
            return 2, "email:owners"
        return (2, f"email:{raw}") if "@" in raw else None

    def addresses(self, address: str, owners: Sequence[str]) -> list[str]:
        return [o for o in owners if EMAIL.match(o)] if address == "owners" else [address]

    def configured(self, addresses: list[str], settings: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        if (settings.get("smtp") or {}).get("host"):
            return addresses, []
        return [], ["email (no `smtp.host`)"]

    def group(self, addresses: list[str]) -> list[str]:
        return [", ".join(addresses)] if addresses else []

    def split(self, target: str) -> list[str]:
        return [a.strip() for a in target.split(",") if a.strip()]

    def endpoint(self, target: str, settings: Mapping[str, Any]) -> str:
        smtp = settings.get("smtp") or {}
        return f"smtp {smtp.get('host')}:{smtp.get('port')}"

    def render(self, payload: Mapping[str, Any]) -> tuple[str, str, str]:
        return render_email(payload)

    def send(self, message: Outgoing, settings: Mapping[str, Any]) -> Delivery:
        smtp = smtp_settings(settings.get("smtp") or {})  # the Message-ID's domain is the expanded sender's
        subject, text, body = self.render(message.payload)
        sender = str(smtp.get("from") or "quinto@localhost")
        domain = sender.rpartition("@")[2] or "localhost"
        stamp = message.created_at.strftime("%Y%m%d%H%M%S") if message.created_at else ""
        message_id = f"<quinto-alert-{message.id}.{stamp}@{domain}>"
        thread = thread_of(message.payload, domain)
        refused = send_email(smtp, self.split(message.target), subject, text, body, message_id, thread=thread)
        if refused:
            return Delivery(note=f"SMTP refused {', '.join(refused)}; delivered to the other recipients")
        return Delivery()


def thread_of(payload: Mapping[str, Any], domain: str) -> str | None:
    """The thread an alert belongs to: `<quinto-incident-N@domain>` for the incident its changes
    are about (the oldest, when several), so the RECOVERED mail and the reminders of an incident
    reply to its FAILING mail (In-Reply-To, References) and mail clients show them together."""
    ids = [c.get("incident") for c in payload.get("changes") or ()]
    found = sorted(i for i in ids if isinstance(i, int) and not isinstance(i, bool))
    return f"<quinto-incident-{found[0]}@{domain}>" if found else None


def smtp_settings(smtp: Mapping[str, Any]) -> dict[str, Any]:
    """The `smtp:` settings with ${VAR} read from the environment now."""
    return {
        k: expand(v, f"smtp.{k}", secret=k == "password") if isinstance(v, str) and "${" in v else v
        for k, v in smtp.items()
    }


def send_email(
    smtp: Mapping[str, Any],
    recipients: list[str],
    subject: str,
    text: str,
    html_part: str,
    message_id: str,
    timeout: float = TIMEOUT_S,
    thread: str | None = None,
) -> list[str]:
    """One email with a plain-text and an HTML part to every recipient; returns the recipients the
    server refused while accepting the others (the message was sent: retrying would duplicate it).
    Text settings may use ${VAR}, read from the environment now."""
    smtp = smtp_settings(smtp)
    host, port = smtp.get("host"), int(smtp.get("port") or 587)
    if not host:
        raise DeliveryError("email alerts need `smtp.host` in quinto.yaml", down=True)
    import smtplib  # imported here: an audit only records alerts, `quinto alerts send` sends them
    import ssl
    from email.message import EmailMessage

    where = f"SMTP {host}:{port}"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = smtp.get("from") or "quinto@localhost"
    msg["To"] = ", ".join(recipients)
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = message_id  # the same for a resend, so mail clients can fold a duplicate
    if thread is not None:  # every mail about one incident, in one thread
        msg["In-Reply-To"] = thread
        msg["References"] = thread
    msg.set_content(text)
    msg.add_alternative(html_part, subtype="html")
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


def render_email(payload: Mapping[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of an alert or a digest payload. Every value in the HTML is escaped."""
    if "items" in payload:
        return _digest_email(payload)
    subject = f"[Quinto] {headline(payload)}"
    text, body = _alert_parts(payload)
    return subject, text, _html_page(subject, body)


def _alert_parts(payload: Mapping[str, Any]) -> tuple[str, str]:
    """The plain-text and HTML body of one table's changes."""
    e = html.escape
    table, column = payload["table"], payload.get("partition_column")
    lines = [headline(payload), ""]
    body = [f'<h2 style="{H2}">{e(headline(payload))}</h2>']
    for part, changes in by_partition(payload["changes"]):
        url = partition_url(payload.get("base_url") or "", table, part)
        shown = f"{column}={part}" if column else part
        lines.append(f"{shown}  {url}")
        body.append(f'<h3 style="{H3}"><a href="{e(url)}" style="{LINK}">{e(shown)}</a></h3><table style="{TABLE}">')
        for c in changes:
            lines.append(f"  {label(c):<11} {c['check']}: {detail(c)}")
            notes = [n for n in (top_values(c), history(c, column)) if n]  # what it names, what it follows
            lines.extend(f"  {'':<11} {n}" for n in notes)
            link = incident_link(payload.get("base_url") or "", c)
            cell = f'<td style="{TD}"><a href="{e(link[1])}" style="{LINK}">{e(link[0])}</a></td>' if link else ""
            if link:
                lines.append(f"  {'':<11} {link[0]}: {link[1]}")
            colour = COLOURS.get(label(c).split()[-1], "#333")
            said = e(detail(c)) + "".join(f'<br><span style="{NOTE}">{e(n)}</span>' for n in notes)
            body.append(
                f'<tr><td style="{TD}"><b style="color:{colour}">{e(label(c))}</b></td>'
                f'<td style="{TD}"><code>{e(c["check"])}</code></td><td style="{TD}">{said}</td>{cell}</tr>'
            )
        body.append("</table>")
        lines.append("")
    owners = ", ".join(payload.get("owners") or []) or "none declared"
    lines.append(f"Owners: {owners}")
    lines.append(f"Run {payload.get('run_id')}")
    body.append(f'<p style="{MUTED}">Owners: {e(owners)}<br>Run {e(str(payload.get("run_id")))}</p>')
    return "\n".join(lines) + "\n", "\n".join(body)


def _digest_email(payload: Mapping[str, Any]) -> tuple[str, str, str]:
    items: Sequence[Mapping[str, Any]] = payload["items"]
    n = sum(len(i["changes"]) for i in items)
    tables = sorted({i["table"] for i in items})
    subject = f"[Quinto] digest {payload['day']}: {n} state change(s) in {', '.join(tables)}"
    texts, bodies = [], []
    for item in items:
        text, body = _alert_parts(item)
        texts.append(text)
        bodies.append(body)
    return subject, "\n".join(texts), _html_page(subject, "<hr>".join(bodies))


# Inline styles only: mail clients drop <style> blocks and external sheets.
BODY = "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#222;margin:0;padding:16px"
H2 = "font-size:18px;margin:0 0 12px"
H3 = "font-size:15px;margin:16px 0 6px"
TABLE = "border-collapse:collapse;width:100%;max-width:900px"
TD = "border-top:1px solid #ddd;padding:6px 8px;vertical-align:top;text-align:left"
LINK = "color:#0b5cad"
MUTED = "color:#666;font-size:12px;margin-top:16px"
NOTE = "color:#555;font-size:13px"
#: the colour of a change's label (its last word: FAIL, WARN, ERROR, RECOVERED)
COLOURS = {"FAIL": "#c62828", "ERROR": "#6a1b9a", "WARN": "#b26a00", "RECOVERED": "#2e7d32"}


def _html_page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f'<body style="{BODY}">{body}</body></html>\n'
    )
