"""Valid values from msgspec types, odd JSON values, and mutations of JSON trees and bytes.

Everything draws from a :class:`~.chooser.Chooser`, so the hypothesis properties and the long
run (``benchmarks/fuzz.py``) generate the same inputs. A mutated tree may hold :class:`Raw`
(JSON text written verbatim: ``NaN``, ``1e999``, a lone ``\\ud800`` escape, 5,000 nested
brackets) and :class:`Pairs` (an object with duplicated keys), which :func:`dumps` writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import msgspec.inspect as mi

from .chooser import Chooser

__all__ = [
    "HUGE_INTS",
    "ODD_STRINGS",
    "RAW_TOKENS",
    "Pairs",
    "Raw",
    "dumps",
    "mutate_bytes",
    "mutate_frame",
    "mutate_tree",
    "nested",
    "odd_text",
    "odd_value",
    "value_for",
]


class Raw:
    """JSON text written as is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r})"


class Pairs:
    """A JSON object written from ``items`` in order, duplicated keys included."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items

    def __repr__(self) -> str:
        return f"Pairs({self.items!r})"


HUGE_INTS: Sequence[int] = (
    2**63 - 1,
    2**63,
    2**64,
    2**64 + 1,
    -(2**63) - 1,
    -(2**64),
    10**30,
    -(10**40),
    2**1000,
)
ODD_FLOATS: Sequence[float] = (1e308, -1e308, 1.7976931348623157e308, 5e-324, -0.0, 1e-300, 0.1, -1.5)
RAW_TOKENS: Sequence[str] = (
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1E+2",
    "0.1e-999",
    "1" * 400,
    "-0.0e0",
    "00",
    "01",
    ".5",
    "+1",
    "0x1F",
    "1.",
    "tru",
    "nul",
    "undefined",
    '"\\ud800"',
    '"\\udfff"',
    '"a\\udc00b"',
    '"\\u0000"',
    '"\\ud83d\\ude00"',
    '"\\x41"',
    "'single'",
    "[]",
    "{}",
    '""',
    "[,]",
    '{"a":}',
)
ODD_STRINGS: Sequence[str] = (
    "",
    " ",
    "NaN",
    "nan",
    "Infinity",
    "-0",
    "1e999",
    "0x10",
    "  7 ",
    "1_000",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit(), and int() reads it
    "\u00b2",  # SUPERSCRIPT TWO: str.isdigit(), but int() refuses it
    "1.5",
    "44",
    "-1",
    "\u202eRTL\u202c",
    "\u200f\u05d0",
    "\U0001d7d8",
    "\U0001f600",
    "\x00",
    "a\x00b",
    "\ufeff",
    "\u4e2d\u6587",
    "\ud800",
    "\udfff",
    "x" * 300,
    "2024-01-15T10:30:00Z",
    "2024-01-15T10:30:00.\u00b2Z",
    "2024-01-15T10:30:00.\u0663Z",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59.999999999-23:59",
    "2024-13-45T99:99:99Z",
    "2024-01-15T10:30:00.123456789123Z",
    "2024-01-15",
    "T",
    "status",
    "ev",
    "SUBSCRIPTION_TYPE_MARKET_DATA",
    "ORDER_SIDE_BUY",
    "MARKET_STATE_OPEN",
    "http://[::1",
    "https://evil.example/v2/aggs?apiKey=stolen",
)
_BAD_UTF8: Sequence[bytes] = (
    b"\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\x80",
)


def odd_text(ch: Chooser, max_len: int = 12, *, surrogates: bool = True) -> str:
    """Short text over ASCII, controls and the whole of Unicode (lone surrogates unless told not)."""
    out = []
    for _ in range(ch.below(max_len + 1)):
        kind = ch.below(4)
        if kind == 0:
            out.append(chr(0x20 + ch.below(95)))
        elif kind == 1:
            out.append(chr(ch.below(0x20)))
        else:
            code = ch.below(0x110000)
            if not surrogates and 0xD800 <= code <= 0xDFFF:
                code = 0xFFFD
            out.append(chr(code))
    return "".join(out)


def nested(ch: Chooser, inner: str = "1") -> Raw:
    """``inner`` wrapped in arrays/objects, from 1 deep to far past every recursion limit."""
    depth = ch.choice((1, 2, 3, 10, 60, 500, 999, 1000, 1100, 3000, 50_000))
    if ch.chance(0.5):
        return Raw("[" * depth + inner + "]" * depth)
    return Raw('{"k":' * depth + inner + "}" * depth)


def odd_value(ch: Chooser, keys: Sequence[str] = (), depth: int = 0) -> Any:
    """One odd JSON value: huge numbers, raw tokens, odd strings, small trees, deep nesting."""
    kind = ch.below(13 if depth < 2 else 9)
    if kind == 0:
        return None
    if kind == 1:
        return ch.chance(0.5)
    if kind == 2:
        return ch.choice(HUGE_INTS)
    if kind == 3:
        return ch.integer(-5, 5)
    if kind == 4:
        return ch.choice(ODD_FLOATS)
    if kind == 5:
        return Raw(ch.choice(RAW_TOKENS))
    if kind == 6:
        return ch.choice(ODD_STRINGS)
    if kind == 7:
        return odd_text(ch)
    if kind == 8:
        return ch.choice(keys) if keys else ""
    if kind == 9:
        return [odd_value(ch, keys, depth + 1) for _ in range(ch.below(4))]
    if kind == 10:
        return {_key(ch, keys): odd_value(ch, keys, depth + 1) for _ in range(ch.below(4))}
    if kind == 11:
        key = _key(ch, keys)
        return Pairs([(key, odd_value(ch, keys, depth + 1)), (key, odd_value(ch, keys, depth + 1))])
    return nested(ch)


def _key(ch: Chooser, keys: Sequence[str]) -> str:
    return ch.choice(keys) if keys and ch.chance(0.7) else odd_text(ch, 6)


# --- valid values of a msgspec type -------------------------------------------------------

_SLUGS = ("will-it-rain", "btc-100k-2025", "m1", "")
_TICKERS = ("AAPL", "MSFT", "BRK.A", "O:SPY251219C00600000", "X:BTC-USD", "C:EUR-USD", "I:SPX", "ESZ5")


def rfc3339(ch: Chooser) -> str:
    """A plausible RFC 3339 time with 0-9 fractional digits."""
    day = f"20{ch.integer(0, 39):02d}-{ch.integer(1, 12):02d}-{ch.integer(1, 28):02d}"
    clock = f"{ch.below(24):02d}:{ch.below(60):02d}:{ch.below(60):02d}"
    digits = ch.below(10)
    frac = "." + str(ch.below(10**digits)).zfill(digits) if digits else ""
    return f"{day}T{clock}{frac}" + ch.choice(("Z", "+00:00", "-05:00", ""))


def decimal_text(ch: Chooser) -> str:
    """A price-like decimal string (``"0.555"``)."""
    return str(Decimal(ch.integer(0, 1000)) / 1000)


def _str_for(name: str, ch: Chooser) -> str:
    low = name.lower()
    if ch.chance(0.1):
        return odd_text(ch, surrogates=False)  # valid JSON text (a lone surrogate is not)
    if "time" in low or low in ("updated", "last_updated"):
        return rfc3339(ch)
    if "slug" in low:
        return ch.choice(_SLUGS)
    if low in ("sym", "ticker", "t", "pair", "p"):
        return ch.choice(_TICKERS)
    return ch.choice(("", "x", "USD", "abc-123", "ORDER_SIDE_SELL", "2", "\u00e9"))


def value_for(t: mi.Type, ch: Chooser, name: str = "", depth: int = 0) -> Any:
    """A JSON value a msgspec decoder of type ``t`` accepts (by struct introspection)."""
    if isinstance(t, mi.UnionType):
        members = [m for m in t.types if not isinstance(m, mi.NoneType)]
        if not members or (len(members) < len(t.types) and ch.chance(0.2)):
            return None
        return value_for(ch.choice(members), ch, name, depth)
    if isinstance(t, mi.StructType):
        return struct_value(t, ch, depth)
    if isinstance(t, mi.StrType):
        return _str_for(name, ch)
    if isinstance(t, mi.BoolType):
        return ch.chance(0.5)
    if isinstance(t, mi.IntType):
        return ch.choice((0, 1, ch.integer(0, 2000), ch.integer(-(2**31), 2**31), 1_705_314_600_000))
    if isinstance(t, mi.FloatType):
        return ch.choice((0.0, 1.5, ch.integer(0, 10**6) / 100, 238.39, 1e-6))
    if isinstance(t, mi.DecimalType):
        return decimal_text(ch) if ch.chance(0.8) else ch.integer(0, 1000) / 8
    if isinstance(t, mi.NoneType):
        return None
    if isinstance(t, mi.ListType):
        if depth > 4:
            return []
        return [value_for(t.item_type, ch, name, depth + 1) for _ in range(ch.below(4))]
    if isinstance(t, mi.DictType | mi.AnyType):
        return {} if ch.chance(0.7) else {"k": ch.integer(0, 9)}
    if isinstance(t, mi.LiteralType):
        return ch.choice(t.values)
    raise AssertionError(f"no generator for {t!r}")


def struct_value(t: mi.StructType, ch: Chooser, depth: int = 0) -> dict[str, Any]:
    """A dict of a Struct's wire fields: required ones always, optional ones often."""
    out: dict[str, Any] = {}
    if t.tag_field is not None:
        out[t.tag_field] = t.tag
    for f in t.fields:
        if f.name.startswith("_"):  # a trip-wire field (see tickwire.massive.models)
            continue
        if f.required or (depth < 5 and ch.chance(0.6)):
            out[f.encode_name] = value_for(f.type, ch, f.name, depth + 1)
    return out


# --- mutations ----------------------------------------------------------------------------


def mutate_tree(obj: Any, ch: Chooser, keys: Sequence[str] = ()) -> Any:
    """``obj`` (fresh builtins: it is changed in place where it can be) after one mutation."""
    if not isinstance(obj, dict | list) or ch.chance(0.05):
        return odd_value(ch, keys)
    parent: Any = obj
    # walk down to a random container
    while True:
        children = [v for v in (parent.values() if isinstance(parent, dict) else parent) if _container(v)]
        if not children or ch.chance(0.4):
            break
        parent = ch.choice(children)
    if isinstance(parent, dict):
        _mutate_dict(parent, ch, keys)
    else:
        _mutate_list(parent, ch, keys)
    return obj


def _container(v: Any) -> bool:
    return isinstance(v, dict | list) and bool(v)


def _mutate_dict(d: dict[Any, Any], ch: Chooser, keys: Sequence[str]) -> None:
    names = [k for k in d if isinstance(k, str)]
    op = ch.below(9)
    if names and op == 0:  # drop one or more keys
        for name in names:
            if ch.chance(0.5):
                del d[name]
    elif names and op == 1:  # change a value's type
        d[ch.choice(names)] = odd_value(ch, keys)
    elif names and op == 2:  # null for a value
        d[ch.choice(names)] = None
    elif names and op == 3:  # a duplicated key: written twice, the second with another value
        d[("dup", ch.choice(names))] = odd_value(ch, keys)
    elif names and op == 4:  # deep nesting
        d[ch.choice(names)] = nested(ch, dumps_text(odd_value(ch, keys)))
    elif names and op == 5:  # swap two values (type confusion between fields)
        a, b = ch.choice(names), ch.choice(names)
        d[a], d[b] = d[b], d[a]
    elif names and op == 6:  # huge number
        d[ch.choice(names)] = ch.choice((*HUGE_INTS, Raw("1e999"), Raw("-0"), Raw("NaN")))
    else:  # add a key
        d[_key(ch, keys)] = odd_value(ch, keys)


def _mutate_list(items: list[Any], ch: Chooser, keys: Sequence[str]) -> None:
    op = ch.below(7)
    if items and op == 0:
        del items[ch.below(len(items))]
    elif items and op == 1:
        items.insert(ch.below(len(items) + 1), items[ch.below(len(items))])
    elif items and op == 2:
        items[ch.below(len(items))] = odd_value(ch, keys)
    elif items and op == 3:
        del items[ch.below(len(items)) :]
    elif items and op == 4:
        items.extend([items[0]] * ch.choice((10, 100, 1000)))
    elif op == 5:
        items.reverse()
    else:
        items.insert(ch.below(len(items) + 1), odd_value(ch, keys))


def dumps_text(obj: Any, ascii_only: bool = True) -> str:
    """JSON text of a tree that may hold :class:`Raw` and :class:`Pairs`."""
    parts: list[str] = []
    _write(obj, parts, ascii_only)
    return "".join(parts)


def dumps(obj: Any, ascii_only: bool = True) -> bytes:
    """UTF-8 bytes of :func:`dumps_text` (lone surrogates written as such: invalid UTF-8)."""
    return dumps_text(obj, ascii_only).encode("utf-8", "surrogatepass")


def _write(obj: Any, out: list[str], ascii_only: bool) -> None:
    if isinstance(obj, Raw):
        out.append(obj.text)
    elif isinstance(obj, dict):
        _write_pairs(list(obj.items()), out, ascii_only)
    elif isinstance(obj, Pairs):
        _write_pairs(obj.items, out, ascii_only)
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(",")
            _write(item, out, ascii_only)
        out.append("]")
    elif isinstance(obj, Decimal):
        out.append(json.dumps(str(obj)))
    else:
        out.append(json.dumps(obj, ensure_ascii=ascii_only))


def _write_pairs(items: list[tuple[str, Any]], out: list[str], ascii_only: bool) -> None:
    out.append("{")
    for i, (k, v) in enumerate(items):
        if i:
            out.append(",")
        name = k[1] if isinstance(k, tuple) else k  # ("dup", name): a repeated key
        out.append(json.dumps(name, ensure_ascii=ascii_only))
        out.append(":")
        _write(v, out, ascii_only)
    out.append("}")


def mutate_bytes(raw: bytes, ch: Chooser) -> bytes:
    """``raw`` after one byte-level mutation: cut, flip, insert, delete, duplicate, re-encode."""
    data = bytearray(raw)
    n = len(data)
    op = ch.below(10)
    pos = ch.below(n + 1)
    if op == 0:
        return bytes(data[:pos])
    if op == 1 and n:
        for _ in range(ch.integer(1, 4)):
            data[ch.below(n)] ^= 1 + ch.below(255)
    elif op == 2:
        data[pos:pos] = ch.binary(8)
    elif op == 3:
        data[pos:pos] = ch.choice((*_BAD_UTF8, *(t.encode() for t in RAW_TOKENS[:20])))
    elif op == 4:
        del data[pos : pos + ch.integer(1, 16)]
    elif op == 5:
        end = min(n, pos + ch.integer(1, 64))
        data[pos:pos] = data[pos:end]
    elif op == 6:
        data[:0] = ch.choice((b"\xef\xbb\xbf", b" \n\t", b"\x00", b"[", b"{"))
    elif op == 7:
        data += ch.choice((b"]", b"}", b",", b" ", b"\x00", b"garbage", b"[]"))
    elif op == 8:
        # a quote turned into something else (strings run on, keys vanish)
        quotes = [i for i, b in enumerate(data) if b == 0x22]
        if quotes:
            data[ch.choice(quotes)] = ch.choice(b"'`\\ ")
    elif n:
        # a digit run replaced by a huge number
        digits = [i for i, b in enumerate(data) if 0x30 <= b <= 0x39]
        if digits:
            i = ch.choice(digits)
            data[i : i + 1] = ch.choice(
                (b"99999999999999999999999", b"1e999", b"-0", b"18446744073709551616")
            )
    return bytes(data)


def mutate_frame(
    valid: Any,
    ch: Chooser,
    keys: Sequence[str] = (),
    *,
    top_level: Callable[[Chooser], Any] | None = None,
) -> tuple[bytes, bool]:
    """A wire frame from the valid JSON tree ``valid``: ``(frame, unchanged)``.

    About one frame in six is left valid; the others get tree mutations, byte mutations,
    or both, or are replaced by an odd top-level value.
    """
    op = ch.below(12)
    ascii_only = ch.chance(0.5)
    if op < 2:
        return dumps(valid, ascii_only), True
    if op < 7:
        tree = valid
        for _ in range(ch.integer(1, 3)):
            tree = mutate_tree(tree, ch, keys)
        return dumps(tree, ascii_only), False
    if op < 10:
        raw = dumps(valid, ascii_only)
        for _ in range(ch.integer(1, 2)):
            raw = mutate_bytes(raw, ch)
        return raw, False
    if op < 11:
        return mutate_bytes(dumps(mutate_tree(valid, ch, keys), ascii_only), ch), False
    value = top_level(ch) if top_level is not None else odd_value(ch, keys)
    return dumps(value, ascii_only), False
