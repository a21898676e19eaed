"""Notifiers: the log one and a webhook posting to a server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from cadencia.ml.errors import NotificationError
from cadencia.ml.notify import LogNotifier, WebhookNotifier, from_spec, redact


def _receiver(received: list[dict[str, Any]], fail_first: int = 0) -> type:
    state = {"fail": fail_first}

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state["fail"]:
                state["fail"] -= 1
                self.send_response(502)
                self.end_headers()
                return
            received.append({"body": json.loads(body), "auth": self.headers.get("Authorization")})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Receiver


def test_webhook_posts_json(serve: Callable[..., str], caplog: pytest.LogCaptureFixture) -> None:
    received: list[dict[str, Any]] = []
    base = serve(handler=_receiver(received, fail_first=1))
    notifier = WebhookNotifier(
        f"{base}/hooks/secret-token?key=abc",
        headers={"Authorization": "Bearer s3cret"},
        retry_delay=0.01,
    )
    with caplog.at_level(logging.INFO, logger="cadencia.ml.notify"):
        notifier.notify(subject="done", message="42 rows", payload={"rows": 42})
    assert received == [
        {
            "body": {"subject": "done", "message": "42 rows", "payload": {"rows": 42}},
            "auth": "Bearer s3cret",
        }
    ]
    assert "secret-token" not in caplog.text and "s3cret" not in caplog.text


def test_webhook_failure_is_clear_and_hides_the_secret(serve: Callable[..., str]) -> None:
    base = serve(handler=_receiver([], fail_first=10))
    notifier = WebhookNotifier(f"{base}/token-123", retries=1, retry_delay=0.01)
    with pytest.raises(
        NotificationError, match=r"did not accept the notification \(HTTP 502\)"
    ) as raised:
        notifier.notify(subject="s", message="m", payload={})
    assert "token-123" not in str(raised.value)


def test_log_notifier_and_specs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cadencia.ml.notify"):
        from_spec("log").notify(subject="batch", message="ok", payload={"month": 4})
    assert 'batch: ok {"month": 4}' in caplog.text
    assert isinstance(from_spec(""), LogNotifier)
    with pytest.raises(NotificationError, match="notifier 'smtp://x' is unknown"):
        from_spec("smtp://x")
    assert redact("https://hooks.example:8443/a/b?t=1") == "https://hooks.example:8443/…"
