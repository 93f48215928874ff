"""Logging set-up: JSON lines for machines, short text for people, secrets scrubbed.

A container job's logs are read by a log pipeline, so off a terminal each record is one JSON
object (time, level, logger, message and any `extra` fields such as pairing and session). On a
terminal the same records read as plain lines. A filter replaces any configured secret value
that might still slip into a message with `***` (invariant 8).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD = set(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                # Structured values (the run summary) stay JSON objects, not strings.
                payload[key] = (value if isinstance(value, str | int | float | bool | dict | list)
                                else str(value))
        if record.exc_info and record.exc_info[0] is not None:
            payload["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(payload, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname.lower():7} {record.getMessage()}"
        if record.exc_info and record.exc_info[0] is not None:
            text += f" ({record.exc_info[0].__name__}: {record.exc_info[1]})"
        return text


class SecretFilter(logging.Filter):
    """Replaces known secret values in a record's message and arguments."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = message
        for secret in self.secrets:
            scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != message:
            record.msg = scrubbed
            record.args = None
        return True


def configure(fmt: str = "auto", *, stream: TextIO | None = None,
              secrets: Iterable[str] = (), level: int = logging.INFO) -> bool:
    """Set up the root logger; returns True when logs are JSON lines."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_mentoring", False):
            root.removeHandler(existing)
    handler._mentoring = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # msal and urllib3 are chatty at INFO and may echo URLs with query strings.
    logging.getLogger("msal").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    return use_json
