"""A generic webhook: `webhook:NAME`, the alert group as JSON POSTed to the endpoint's URL.

quinto.yaml: `webhook: {ops: {url: ${OPS_WEBHOOK_URL}, secret: ${OPS_WEBHOOK_SECRET}}}`. With a
secret, `X-Quinto-Signature: sha256=<hex>` carries the HMAC-SHA256 of the exact body under that
secret; the body holds the same `timestamp` as the `X-Quinto-Timestamp` header, so a receiver that
checks the signature can also refuse old deliveries. `X-Quinto-Delivery` (and the body's `delivery`)
is the outbox row's id: the same when a failed or interrupted delivery is sent again, so a receiver
can drop the duplicate. Any 2xx is success; 5xx, 429 and connection failures are retried with
backoff through the outbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from quinto.alerts.channels.base import Channel, Delivery, Outgoing, expand, http_url, post
from quinto.alerts.render import headline
from quinto.settings import Setting

SIGNATURE_HEADER = "X-Quinto-Signature"
TIMESTAMP_HEADER = "X-Quinto-Timestamp"
DELIVERY_HEADER = "X-Quinto-Delivery"


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of body>`: what a receiver recomputes and compares."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class Webhook(Channel):
    name = "webhook"
    title = "webhook"
    forms = ("webhook:NAME",)
    required = ("url",)
    keys: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "url", None, str, "Where the JSON is POSTed, only as `${VAR}` (a URL may carry a token).", kind="secret"
        ),
        Setting(
            "secret",
            None,
            str,
            "Key of the `X-Quinto-Signature` HMAC-SHA256, only as `${VAR}` (none: the body is not signed).",
            kind="secret",
        ),
    )
    help = "Generic webhooks: name → `url` and `secret`, both from the environment (`webhook:NAME` in `notify:`)."

    def render(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body, without the delivery id and timestamp that `send` adds."""
        digest = "items" in payload
        return {
            "type": "digest" if digest else "alert",
            "summary": f"Quinto digest {payload['day']}" if digest else headline(payload),
            "alert": dict(payload),
        }

    def send(self, message: Outgoing, settings: Mapping[str, Any]) -> Delivery:
        keys = self.config(message.target, settings)
        what = f"webhook '{message.target}'"
        if not keys.get("url"):
            raise self.missing(message.target, "url")
        url = http_url(expand(keys["url"], what), f"the URL of {what}")
        secret = expand(keys["secret"], what) if keys.get("secret") else None
        stamp = int(time.time())
        body = json.dumps({"delivery": message.id, "timestamp": stamp, **self.render(message.payload)}).encode()
        headers = {TIMESTAMP_HEADER: str(stamp), DELIVERY_HEADER: str(message.id)}
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, body)
        status, _ = post(url, body, label="webhook", target=message.target, headers=headers, secrets=[secret or ""])
        return Delivery(details=(f"HTTP {status}",))
