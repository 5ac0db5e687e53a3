"""TLS for every client: verification always on, and one clear way to trust another CA.

``wss://`` and ``https://`` connections verify the server's certificate and host name. The trust
store is the default one (OpenSSL's, which honours ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``; httpx's
for REST, which honours ``SSL_CERT_FILE`` too) unless the caller passes ``ca_file=`` (a PEM bundle,
trusted instead: a corporate proxy's or a test CA) or ``ssl_context=`` (used as is). A failed
verification is a configuration problem, so it becomes a fatal :class:`~tickwire.errors.TLSError`
saying what to do, never an endless retry, and nothing here turns verification off.
"""

from __future__ import annotations

import os
import ssl
from urllib.parse import urlsplit

from tickwire.errors import ConfigError, TLSError

__all__ = ["check_tls_options", "client_context", "verify_error", "verify_failed"]


def check_tls_options(ssl_context: ssl.SSLContext | None, ca_file: str | os.PathLike[str] | None) -> None:
    """Fail at construction (not at the first connect) on contradictory or missing TLS settings."""
    if ssl_context is not None and ca_file is not None:
        raise ConfigError("pass ssl_context= or ca_file=, not both (load the CA file into the context)")
    if ca_file is not None and not os.path.isfile(ca_file):
        raise ConfigError(
            f"ca_file {os.fspath(ca_file)!r} is not a file: give a PEM bundle of CA certificates"
        )


def client_context(
    ssl_context: ssl.SSLContext | None = None, ca_file: str | os.PathLike[str] | None = None
) -> ssl.SSLContext:
    """The context a client connects with: ``ssl_context``, or the default one trusting ``ca_file``."""
    check_tls_options(ssl_context, ca_file)
    if ssl_context is not None:
        return ssl_context
    return ssl.create_default_context(cafile=os.fspath(ca_file) if ca_file is not None else None)


def verify_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind ``exc`` (httpx wraps it), if that is what it is."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short chain: the exception, its cause or context, theirs...
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def verify_failed(url: str, exc: ssl.SSLCertVerificationError) -> TLSError:
    """The :class:`TLSError` for a failed check of ``url``'s server (showing only scheme and host)."""
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else url.split("?", 1)[0]
    why = exc.verify_message or exc.reason or "certificate verify failed"
    return TLSError(
        f"TLS certificate verification failed for {where}: {why}. Verification stays on: if the server "
        "uses a private or corporate CA, pass ca_file='/path/to/ca.pem' (or ssl_context=), set "
        "SSL_CERT_FILE, or run the CLI as `tickwire --ca-file PATH ...`"
    )
