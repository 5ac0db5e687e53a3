"""The simulator's frames decode with msgspec exactly as spec §B4-B5 describes them, in JSON (``t``
RFC 3339 with nanoseconds, text frames) and msgpack (``t`` the Timestamp extension, binary frames);
the handshake, header authentication, the full-set subscription ack and the endpoints."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgpack
import msgspec
import pytest
from websockets.exceptions import InvalidStatus

from tickwire.sim.alpaca import FEEDS, SIM_KEY_ID, SIM_SECRET_KEY, AlpacaSimulator
from tickwire.sim.alpaca.wire import WireTime, encode, rfc3339_ns

from .conftest import fast_sim
from .raw_client import Encoding, RawAlpaca

RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{9})?Z$")


class _S(msgspec.Struct, tag_field="T", forbid_unknown_fields=True):
    pass


# spec §B5, the stock feeds: every field named, nothing else allowed
class STrade(_S, tag="t"):
    S: str
    i: int
    x: str
    p: float
    s: float
    c: list[str]
    z: str
    t: Any


class SQuote(_S, tag="q", rename={"as_": "as"}):
    S: str
    bx: str
    bp: float
    bs: float
    ax: str
    ap: float
    as_: float
    c: list[str]
    z: str
    t: Any


class SBar(_S, tag="b"):
    S: str
    o: float
    h: float
    l: float  # noqa: E741
    c: float
    v: float
    n: int
    vw: float
    t: Any


class SUpdatedBar(SBar, tag="u"):
    pass


class SDailyBar(SBar, tag="d"):
    pass


class SStatus(_S, tag="s"):
    S: str
    sc: str
    sm: str
    rc: str
    rm: str
    t: Any
    z: str


class SLuld(_S, tag="l"):
    S: str
    u: float
    d: float
    i: str
    t: Any
    z: str


class SImbalance(_S, tag="i"):
    S: str
    p: float
    z: str
    t: Any


class SCorrection(_S, tag="c"):
    S: str
    x: str
    oi: int
    op: float
    os: float
    oc: list[str]
    ci: int
    cp: float
    cs: float
    cc: list[str]
    z: str
    t: Any


class SCancel(_S, tag="x"):
    S: str
    i: int
    x: str
    p: float
    s: float
    a: str
    z: str
    t: Any


class CTrade(_S, tag="t"):
    S: str
    p: float
    s: float
    t: Any
    i: int
    tks: str


class CQuote(_S, tag="q", rename={"as_": "as"}):
    S: str
    bp: float
    bs: float
    ap: float
    as_: float
    t: Any


class CLevel(msgspec.Struct, forbid_unknown_fields=True):
    p: float
    s: float


class COrderbook(_S, tag="o"):
    S: str
    t: Any
    b: list[CLevel]
    a: list[CLevel]
    r: bool = False


class NNews(_S, tag="n"):
    id: int
    headline: str
    summary: str
    author: str
    created_at: Any
    updated_at: Any
    url: str
    content: str
    symbols: list[str]
    source: str


STOCK_ITEMS = list[
    STrade | SQuote | SBar | SUpdatedBar | SDailyBar | SStatus | SLuld | SImbalance | SCorrection | SCancel
]
CRYPTO_ITEMS = list[CTrade | CQuote | COrderbook | SBar | SUpdatedBar | SDailyBar]


def decode(data: bytes | str, encoding: Encoding, kind: Any) -> list[Any]:
    if encoding == "json":
        return msgspec.json.decode(data, type=kind)  # type: ignore[no-any-return]
    assert isinstance(data, bytes)
    return msgspec.msgpack.decode(data, type=kind)  # type: ignore[no-any-return]


def check_time(value: Any, encoding: Encoding) -> None:
    if encoding == "json":
        assert isinstance(value, str) and RFC3339_NS.match(value), value
    else:
        assert isinstance(value, datetime) and value.tzinfo is not None, value  # the Timestamp extension


@pytest.fixture(params=["json", "msgpack"])
def encoding(request: pytest.FixtureRequest) -> Encoding:
    return request.param  # type: ignore[no-any-return]


async def login(sim: AlpacaSimulator, feed: str, encoding: Encoding) -> RawAlpaca:
    client = await RawAlpaca.open(sim.url_for(feed), encoding)
    assert await client.login(SIM_KEY_ID, SIM_SECRET_KEY) == [{"T": "success", "msg": "authenticated"}]
    return client


async def test_stock_items_decode_exactly_as_specified(alpaca: AlpacaSimulator, encoding: Encoding) -> None:
    client = await login(alpaca, "sip", encoding)
    channels = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "imbalances"]
    subscribe = {c: ["*"] for c in channels} | {"trades": ["AAPL", "MSFT"], "quotes": ["AAPL"]}
    await client.send({"action": "subscribe", **subscribe})
    ack = await client.recv()
    follow = {"corrections": ["AAPL", "MSFT"], "cancelErrors": ["AAPL", "MSFT"]}
    assert ack == [{"T": "subscription", **subscribe, **follow}]
    seen: dict[str, int] = {}
    wanted = {"t", "q", "b", "u", "d", "s", "l", "i", "c", "x"}
    faults_done = False
    while not wanted <= seen.keys():
        data = await client.recv_raw(timeout=10)
        items = decode(data, encoding, STOCK_ITEMS)
        generic = msgspec.json.decode(data) if encoding == "json" else msgspec.msgpack.decode(data)
        for item, raw in zip(items, generic, strict=True):
            assert item.__struct_config__.tag == raw["T"]
            seen[raw["T"]] = seen.get(raw["T"], 0) + 1
            check_time(raw["t"], encoding)
        if not faults_done and "t" in seen:
            alpaca.halt("AAPL")
            assert alpaca.correct_trade("AAPL") is not None or alpaca.correct_trade("MSFT") is not None
            # whichever subscribed symbol traded first has a last trade to cancel
            assert any(alpaca.cancel_trade(sym, action="E") is not None for sym in ("AAPL", "MSFT", "NVDA"))
            faults_done = True
    await client.close()


async def test_crypto_items_and_a_snapshot_then_updates(alpaca: AlpacaSimulator, encoding: Encoding) -> None:
    client = await login(alpaca, "crypto", encoding)
    await client.send(
        {
            "action": "subscribe",
            "trades": ["BTC/USD"],
            "quotes": ["BTC/USD"],
            "orderbooks": ["BTC/USD", "ETH/USD"],
        }
    )
    (ack,) = await client.recv()
    assert list(ack) == ["T", *FEEDS["crypto"].channels] and ack["orderbooks"] == ["BTC/USD", "ETH/USD"]
    first_books: dict[str, bool] = {}
    kinds: set[str] = set()
    while not ({"t", "q", "o"} <= kinds and len(first_books) == 2):
        data = await client.recv_raw(timeout=10)
        for item in decode(data, encoding, CRYPTO_ITEMS):
            kinds.add(item.__struct_config__.tag)
            check_time(item.t, encoding)
            if isinstance(item, COrderbook):
                first_books.setdefault(item.S, item.r)
                assert item.b or item.a
    assert first_books == {"BTC/USD": True, "ETH/USD": True}, (
        "the first book of each symbol is whole (r: true)"
    )
    await client.close()


async def test_option_items_in_msgpack_and_no_json(alpaca: AlpacaSimulator) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await RawAlpaca.open(alpaca.url_for("opra"), "json")
    assert refused.value.response.status_code == 400
    client = await login(alpaca, "opra", "msgpack")
    await client.send({"action": "subscribe", "trades": ["*"], "quotes": ["*"]})
    (ack,) = await client.recv()
    assert ack == {"T": "subscription", "trades": ["*"], "quotes": ["*"]}
    item = await client.recv_until("t", timeout=10)
    assert set(item) == {"T", "S", "t", "x", "p", "s", "c"} and isinstance(item["t"], datetime)
    assert not item["S"].startswith("O:") and isinstance(item["c"], str)
    await client.close()


async def test_news_items(alpaca: AlpacaSimulator, encoding: Encoding) -> None:
    client = await login(alpaca, "news", encoding)
    await client.send({"action": "subscribe", "news": ["*"]})
    assert await client.recv() == [{"T": "subscription", "news": ["*"]}]
    data = await client.recv_raw(timeout=10)
    (article,) = decode(data, encoding, list[NNews])
    check_time(article.created_at, encoding)
    assert article.symbols and article.headline
    published = alpaca.publish_news("FAKE news about AAPL", ["AAPL"])
    while True:
        items = decode(await client.recv_raw(), encoding, list[NNews])
        if any(a.id == published.id for a in items):
            break
    await client.close()


async def test_times_carry_nanoseconds_in_both_encodings() -> None:
    t = WireTime(1_613_999_504_208_123_456)
    assert rfc3339_ns(t.ns) == "2021-02-22T13:11:44.208123456Z"
    assert encode({"t": t}, "json") == b'{"t":"2021-02-22T13:11:44.208123456Z"}'
    stamp = msgpack.unpackb(encode({"t": t}, "msgpack"))["t"]
    assert isinstance(stamp, msgpack.Timestamp) and stamp.to_unix_nano() == t.ns
    assert rfc3339_ns(1_613_999_460_000_000_000) == "2021-02-22T13:11:00Z"


async def test_json_trades_are_the_simulators_values(alpaca: AlpacaSimulator) -> None:
    client = await login(alpaca, "iex", "json")
    await client.send({"action": "subscribe", "trades": ["AAPL"]})
    await client.recv()
    trade = await client.recv_until("t", timeout=10)
    ms = int(datetime.fromisoformat(trade["t"][:23] + "+00:00").timestamp() * 1000 + 0.5)
    mine = [t for t in alpaca.trades("iex", "AAPL", ms, ms + 1) if rfc3339_ns(t.t.ns) == trade["t"]]  # type: ignore[attr-defined]
    assert mine and msgspec.json.decode(encode(mine[0], "json")) == trade
    assert trade["x"] == "V", "the IEX feed shows IEX prints"
    await client.close()


async def test_the_subscription_ack_is_always_the_full_set(
    alpaca: AlpacaSimulator, encoding: Encoding
) -> None:
    client = await login(alpaca, "iex", encoding)
    await client.send({"action": "subscribe", "trades": ["AAPL"], "quotes": ["AMD", "CLDR"], "bars": ["*"]})
    await client.recv()
    await client.send({"action": "subscribe", "dailyBars": ["VOO"], "statuses": ["*"], "trades": ["AAPL"]})
    assert await client.recv() == [
        {
            "T": "subscription",
            "trades": ["AAPL"],
            "quotes": ["AMD", "CLDR"],
            "bars": ["*"],
            "updatedBars": [],
            "dailyBars": ["VOO"],
            "statuses": ["*"],
            "lulds": [],
            "imbalances": [],
            "corrections": ["AAPL"],
            "cancelErrors": ["AAPL"],
        }
    ]
    await client.send({"action": "unsubscribe", "bars": ["*"], "quotes": ["AMD"]})
    (ack,) = await client.recv()
    assert (ack["bars"], ack["quotes"], ack["trades"]) == ([], ["CLDR"], ["AAPL"])
    actions = [(a.action, a.channels) for a in alpaca.actions("iex") if a.action != "auth"]
    assert actions[-1] == ("unsubscribe", {"quotes": ("AMD",), "bars": ("*",)})
    await client.close()


async def test_header_authentication(alpaca: AlpacaSimulator, encoding: Encoding) -> None:
    headers = {"apca-api-key-id": SIM_KEY_ID, "APCA-API-SECRET-KEY": SIM_SECRET_KEY}  # names are case-blind
    client = await RawAlpaca.open(alpaca.url_for("iex"), encoding, headers)
    assert await client.recv() == [{"T": "success", "msg": "connected"}]
    assert await client.recv() == [{"T": "success", "msg": "authenticated"}]
    await client.send({"action": "auth", "key": SIM_KEY_ID, "secret": SIM_SECRET_KEY})
    assert await client.recv() == [{"T": "error", "code": 403, "msg": "already authenticated"}]
    bad = await RawAlpaca.open(
        alpaca.url_for("sip"), encoding, {"APCA-API-KEY-ID": SIM_KEY_ID, "APCA-API-SECRET-KEY": "x"}
    )
    await bad.recv()
    assert await bad.recv() == [{"T": "error", "code": 402, "msg": "auth failed"}]
    assert await bad.closed() == 1008
    assert alpaca.handshakes[0].header_key_id is not None and SIM_KEY_ID not in repr(alpaca.handshakes)
    await client.close()


async def test_control_frames_hold_one_item_and_data_frames_are_batched(encoding: Encoding) -> None:
    async with fast_sim(max_events_per_frame=3) as sim:
        client = await login(sim, "sip", encoding)
        await client.send({"action": "subscribe", "trades": ["AAPL", "MSFT"]})
        assert len(await client.recv()) == 1
        sizes = {len(await client.recv()) for _ in range(30)}
        assert max(sizes) == 3 and sizes <= {1, 2, 3}
        await client.close()


async def test_delayed_sip_lags_by_the_delay(alpaca: AlpacaSimulator) -> None:
    client = await login(alpaca, "delayed_sip", "json")
    await client.send({"action": "subscribe", "trades": ["AAPL"]})
    await client.recv()
    trade = await client.recv_until("t", timeout=10)
    sent_ms = datetime.fromisoformat(trade["t"][:19] + "+00:00").timestamp() * 1000
    assert alpaca.now_ms() - sent_ms >= alpaca.delay_ms - 2_000
    await client.close()


async def test_unknown_paths_are_404(alpaca: AlpacaSimulator) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await RawAlpaca.open(alpaca.url + "/v2/nasdaq")
    assert refused.value.response.status_code == 404


def test_every_feed_has_a_url() -> None:
    sim = AlpacaSimulator(port=12345)
    assert sim.url_for("sip") == "ws://127.0.0.1:12345/v2/sip"
    assert sim.url_for("crypto").endswith("/v1beta3/crypto/us")
    assert {sim.url_for(f).split("12345")[1] for f in FEEDS} == {f.path for f in FEEDS.values()}
    with pytest.raises(ValueError, match="unknown Alpaca feed"):
        sim.url_for("nasdaq")
