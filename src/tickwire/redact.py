"""Output safety in one place: credentials masked, network strings made inert for terminals and markup.

Strings from the network (symbols, market slugs, server status messages, close reasons, error text)
can hold terminal control sequences (``\\x1b[2J`` clears the screen, ``\\x1b]0;...\\x07`` retitles
the window, ``\\r`` overwrites a line) and rich markup (``[bold red]``). URLs can hold keys
(``?apiKey=...``, ``user:password@``). Every view, log line and alert passes them through here:

* :func:`mask_secrets` masks credential query values and userinfo passwords, anywhere in a text;
* :func:`escape_terminal` shows control characters as escapes (``\\x1b``), so they print inertly;
* :func:`escape_markup` escapes rich markup (for text rich will parse);
* :class:`SafeLogFilter` applies both to every log record (install it once with
  :func:`install_log_filter`).
"""

from __future__ import annotations

import logging
import re

__all__ = [
    "SafeLogFilter",
    "escape_markup",
    "escape_terminal",
    "install_log_filter",
    "json_escape_controls",
    "mask_secrets",
    "safe_text",
]

MASK = "****"

# A query (or fragment/form) parameter whose name ends in a credential word: apiKey, apikey, api_key,
# key, token, access_token, secret, client_secret, password, signature ... (case-insensitive).
_SECRET_PARAM = re.compile(
    r"(?i)([?&;#](?:[\w.\-]*?)(?:key|token|secret|password|passwd|pwd|signature|sig|auth|credential))"
    r"=([^&;#\s'\"<>\x00-\x1f\x7f]+)"
)
# scheme://user:password@host -> scheme://user:****@host (the user name is kept: it helps and is not a key)
_USERINFO = re.compile(r"(://[^:/@\s?#]*:)[^@\s/?#]+@")
# nats://TOKEN@host: NATS token auth puts the token where a user name would be
_NATS_TOKEN = re.compile(r"(?i)(\bnats://|\btls://)[^:/@\s?#]+@")


def mask_secrets(text: str) -> str:
    """``text`` with credential query values (``apiKey=``, ``token=``, ``secret=`` ...), URL
    userinfo passwords and NATS tokens (``nats://TOKEN@``) replaced by ``****``, wherever they occur
    (a URL, an error message). User names are kept.

    >>> mask_secrets("wss://h/stocks?apiKey=abc&x=1 and redis://u:pw@r:6379")
    'wss://h/stocks?apiKey=****&x=1 and redis://u:****@r:6379'
    """
    if "=" in text:
        text = _SECRET_PARAM.sub(rf"\1={MASK}", text)
    if "@" in text:
        text = _USERINFO.sub(rf"\1{MASK}@", text)
        text = _NATS_TOKEN.sub(rf"\1{MASK}@", text)
    return text


def _escape_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)):  # C0 (ESC, BEL, CR, LF...), DEL, C1 (CSI...)
        table[code] = f"\\x{code:02x}"
    table.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
    # bidirectional overrides and isolates (a line shown in another order), line/paragraph separators
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029, 0x200E, 0x200F):
        table[code] = f"\\u{code:04x}"
    return table


_ESCAPES = _escape_table()
_NEEDS_ESCAPE = re.compile("[" + "".join(re.escape(chr(c)) for c in _ESCAPES) + "]")


def escape_terminal(text: str) -> str:
    """``text`` with every control character shown as an escape, so it prints inertly on one line:
    ESC as ``\\x1b``, BEL ``\\x07``, CR ``\\r``, LF ``\\n``, C1 (``\\x9b``...), bidi overrides
    (``\\u202e``). Printable text (any script) is unchanged.

    >>> escape_terminal("AAPL\\x1b[2J\\r")
    'AAPL\\\\x1b[2J\\\\r'
    """
    if _NEEDS_ESCAPE.search(text) is None:  # the common case: nothing to do, no copy
        return text
    return text.translate(_ESCAPES)


# UTF-8 of the characters JSON encoders leave raw but terminals may act on: C1 (U+0080-U+009F),
# bidi overrides and isolates, line and paragraph separators (JSON escapes only U+0000-U+001F)
_JSON_RAW_CONTROLS = re.compile(b"\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def json_escape_controls(data: bytes) -> bytes:
    """UTF-8 JSON with the control characters encoders leave raw (C1, bidi overrides, U+2028/9)
    written as ``\\uXXXX`` escapes: the same JSON value, safe to ``cat`` on a terminal.

    Structural JSON is ASCII, so these bytes can only be inside strings, where the escape is valid."""
    if b"\xc2" not in data and b"\xe2" not in data:
        return data
    return _JSON_RAW_CONTROLS.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), data)


def escape_markup(text: str) -> str:
    """``text`` with rich markup escaped (``[bold]`` shown as written, not applied); for strings that
    go into rich markup (``Text.from_markup``, a ``str`` cell of a ``Table``)."""
    from rich.markup import escape

    return escape(text)


def safe_text(text: str) -> str:
    """A network string (or an error naming a URL) ready for a terminal or log line: credentials
    masked, control characters escaped. Markup is left alone: use :func:`escape_markup` as well
    where rich parses markup."""
    return escape_terminal(mask_secrets(text))


class SafeLogFilter(logging.Filter):
    """Makes every record it sees safe: the formatted message with credentials masked and control
    characters escaped (a log line cannot carry a key, forge a second line or drive the terminal).

    Exception text (``exc_info``) is left to the formatter: tickwire's errors are built masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format: let the handler report it as it would
            return True
        safe = safe_text(message)
        if safe is not message or record.args:
            record.msg, record.args = safe, None
        return True


_FILTER = SafeLogFilter()


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Add :class:`SafeLogFilter` to every handler of ``logger`` (the root by default), once each.

    Handler filters see records of every logger that propagates to them."""
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
