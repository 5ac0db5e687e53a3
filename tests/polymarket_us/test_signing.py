"""Ed25519 request signing: the spec's test vector, key forms, credentials, and no secret leaks."""

from __future__ import annotations

import pytest

from tickwire.errors import ConfigError
from tickwire.polymarket_us.signing import (
    Credentials,
    Signer,
    public_key_b64,
    sign_message,
    verify_signature,
)

SECRET_32 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
SECRET_64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA=="
PUBLIC = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
SIGNATURE = "QrDf4oUm/I0i/tTg0lo/zkyIvQXU3wfNkfmju325ksGxQCeWga66Lv2y44t8+Jys/RmP3T/bGxuk/3zf4tUYCw=="


@pytest.mark.parametrize("secret", [SECRET_32, SECRET_64], ids=["32-byte", "64-byte"])
def test_spec_test_vector(secret: str) -> None:
    assert sign_message(secret, "1705420800000GET/v1/ws/markets") == SIGNATURE
    assert public_key_b64(secret) == PUBLIC
    headers = Signer(Credentials("key-1", __import__("tickwire").credentials.Secret(secret))).headers(
        1705420800.0, "GET", "/v1/ws/markets?ignored=1"
    )
    assert headers == {
        "X-PM-Access-Key": "key-1",
        "X-PM-Timestamp": "1705420800000",
        "X-PM-Signature": SIGNATURE,
    }


def test_verify_signature() -> None:
    assert verify_signature(PUBLIC, "1705420800000", "GET", "/v1/ws/markets", SIGNATURE)
    assert not verify_signature(PUBLIC, "1705420800001", "GET", "/v1/ws/markets", SIGNATURE)
    assert not verify_signature(PUBLIC, "1705420800000", "GET", "/v1/ws/private", SIGNATURE)
    assert not verify_signature(PUBLIC, "1705420800000", "GET", "/v1/ws/markets", "not base64!")


def test_credentials_from_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("POLYMARKET_KEY_ID", raising=False)
    monkeypatch.delenv("POLYMARKET_SECRET_KEY", raising=False)
    env = tmp_path / ".env"
    env.write_text(f"POLYMARKET_KEY_ID=from-dotenv\nPOLYMARKET_SECRET_KEY={SECRET_64}\n")
    creds = Credentials.resolve(dotenv_path=env)
    assert creds.key_id == "from-dotenv" and creds.secret.reveal() == SECRET_64
    monkeypatch.setenv("POLYMARKET_KEY_ID", "from-env")
    monkeypatch.setenv("POLYMARKET_SECRET_KEY", SECRET_32)
    assert Credentials.resolve(dotenv_path=env).key_id == "from-env"
    assert Credentials.resolve("explicit", SECRET_32, None).key_id == "explicit"
    assert SECRET_32 not in repr(creds) and SECRET_64 not in repr(creds)
    assert SECRET_32 not in repr(Signer(Credentials.resolve(dotenv_path=None)))


def test_missing_or_malformed_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYMARKET_KEY_ID", raising=False)
    monkeypatch.delenv("POLYMARKET_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="POLYMARKET_KEY_ID and POLYMARKET_SECRET_KEY"):
        Credentials.resolve(dotenv_path=None)
    with pytest.raises(ConfigError, match="not valid base64") as bad:
        Credentials.resolve("k", "%%%secret-material%%%", None)
    assert "secret-material" not in str(bad.value)
    with pytest.raises(ConfigError, match="decodes to 16 bytes"):
        Credentials.resolve("k", "AAECAwQFBgcICQoLDA0ODw==", None)
