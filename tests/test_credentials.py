"""Secrets: never shown, redacted from text, resolved from arguments, the environment or a .env file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickwire.credentials import Secret, redact, resolve_secret


def test_secret_never_shows() -> None:
    s = Secret("abc123")
    assert "abc123" not in repr(s) and "abc123" not in str(s) and "abc123" not in f"{s}"
    assert redact("key=abc123!", s) == "key=****!"


def test_resolve_secret_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    monkeypatch.setenv("POLYGON_API_KEY", "from-env")
    assert resolve_secret(None, ["MASSIVE_API_KEY", "POLYGON_API_KEY"], None) == Secret("from-env")
    monkeypatch.delenv("POLYGON_API_KEY")
    env = tmp_path / ".env"
    env.write_text("MASSIVE_API_KEY=from-dotenv\n")
    assert resolve_secret(None, ["MASSIVE_API_KEY"], env) == Secret("from-dotenv")
    assert resolve_secret("explicit", ["MASSIVE_API_KEY"], env) == Secret("explicit")
    assert resolve_secret(None, ["NOPE_KEY"], None) is None
