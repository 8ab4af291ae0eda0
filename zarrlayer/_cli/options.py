"""Storage options from the command line, and the redaction of secrets in what the CLI prints."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from zarrlayer.errors import ZarrlayerError

__all__ = ["CLIUsageError", "parse_storage_options", "redact"]

_SECRET_WORDS = ("key", "secret", "token", "password", "passwd", "credential", "auth", "session")
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


class CLIUsageError(ZarrlayerError, ValueError):
    """A command-line argument that cannot be used (bad --storage-option, unreadable options file, a negative
    demo latency), also when the same argument is given to the Python function behind the command."""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_storage_options(pairs: Iterable[str] | None, file: str | None) -> dict[str, Any]:
    """Merge `--storage-options-file` (a JSON object) with `--storage-option key=value` pairs (these win)."""
    options: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = json.loads(Path(file).read_text())
        except OSError as exc:
            raise CLIUsageError(f"cannot read storage options file {file!r}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise CLIUsageError(f"expected JSON in storage options file {file!r}, found invalid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise CLIUsageError(
                f"expected a JSON object in storage options file {file!r}, found {type(loaded).__name__}"
            )
        options.update(loaded)
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CLIUsageError(f"expected --storage-option KEY=VALUE, found {pair.split('=')[0]!r} with no '='")
        options[key.strip()] = _parse_value(value)
    return options


def _secret_values(options: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            found.extend(_secret_values(value))
        elif isinstance(value, str) and value and any(w in name.lower() for w in _SECRET_WORDS):
            found.append(value)
    return found


def redact(text: str, options: Mapping[str, Any] | None = None) -> str:
    """`text` with URL user-info and every secret-looking storage option value replaced by '***'."""
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    for secret in sorted(_secret_values(options or {}), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
