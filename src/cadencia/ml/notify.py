"""The ``Notifier`` seam: telling people what a pipeline did.

One small base class with one method; two built in: ``LogNotifier`` (the
``cadencia.ml.notify`` logger, which lands in the step's log) and
``WebhookNotifier`` (a JSON POST, retried on network errors and 5xx). A
webhook URL or header may carry a secret: neither is ever logged — logs show
the host only.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from cadencia.ml.errors import NotificationError

logger = logging.getLogger("cadencia.ml.notify")


class Notifier(ABC):
    """Delivers one message with a JSON-able payload. Arguments are keyword-only."""

    @abstractmethod
    def notify(self, *, subject: str, message: str, payload: Mapping[str, Any]) -> None: ...


class LogNotifier(Notifier):
    def __init__(self, level: int = logging.INFO) -> None:
        self.level = level

    def notify(self, *, subject: str, message: str, payload: Mapping[str, Any]) -> None:
        logger.log(self.level, "%s: %s %s", subject, message, json.dumps(payload, default=str))


class WebhookNotifier(Notifier):
    """POST ``{"subject", "message", "payload"}`` as JSON to ``url``."""

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        retry_delay: float = 0.2,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise NotificationError(f"webhook URL must be http(s)://host/..., got {redact(url)!r}")
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay

    def notify(self, *, subject: str, message: str, payload: Mapping[str, Any]) -> None:
        body = json.dumps(
            {"subject": subject, "message": message, "payload": payload}, default=str
        ).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "cadencia", **self.headers},
        )
        last = ""
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                logger.info("notified webhook %s: %s", redact(self.url), subject)
                return
            except urllib.error.HTTPError as exc:
                exc.close()  # it holds the response's socket
                last = f"HTTP {exc.code}"
                if exc.code < 500:
                    break
            except OSError as exc:
                last = type(exc).__name__ + (f": {exc.reason}" if hasattr(exc, "reason") else "")
            if attempt < self.retries:
                time.sleep(self.retry_delay * 2**attempt)
        raise NotificationError(
            f"webhook {redact(self.url)} did not accept the notification ({last}); check the URL "
            "and that the receiver is up"
        )


def redact(url: str) -> str:
    """``scheme://host[:port]/…``: paths and queries of webhooks often embed tokens."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or "?"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}/…"


def from_spec(spec: str) -> Notifier:
    """``"log"`` or an http(s) URL (the pipelines' ``notify`` parameter)."""
    if spec in ("", "log"):
        return LogNotifier()
    if spec.startswith(("http://", "https://")):
        return WebhookNotifier(spec)
    raise NotificationError(f"notifier {spec!r} is unknown: use 'log' or an http(s) webhook URL")
