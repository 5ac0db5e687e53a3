"""A stream server for the benchmarks, in the Massive or the Polymarket US dialect (127.0.0.1 only).

Massive (``--kind massive``): N Polygon ``T`` events, B per unmasked text frame, 8 rotating
symbols, ``q`` from 1 to N. Per connection: WebSocket handshake, ``connected`` status,
``auth_success`` after an ``auth`` action, ``subscribed to: ...`` after a ``subscribe`` action,
then the stream.

Polymarket (``--kind polymarket``): N ``marketData`` frames (one whole book of ``--levels``
levels a side per frame, as the real markets socket sends them), 8 rotating market slugs, the
frame's 1-based index in ``stats.sharesTraded``. Per connection: handshake (the auth headers are
not checked), then the stream after the first ``subscribe`` request.

Throughput mode (default): the whole post-subscribe byte stream is built once at start-up and
sent with one blocking ``sendall``, so there is no per-frame Python work and the server is never
the bottleneck. Paced mode (``--rate R``, Massive only): events go out at R events/s in slices of at
most 1 ms, each trade's ``t`` holding the ``time.time_ns()`` of the moment its slice is sent, so a
client can measure the latency from server send to its handler.

The server prints ``READY <port>`` on stdout, serves connections one at a time, answers the
client's close frame and waits for the next connection.

Run: ``python benchmarks/stream_server.py --n 1000000 --batch 50 [--kind massive] [--rate 0]``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
import sys
import time

__all__ = [
    "MARKET_SLUGS",
    "SYMBOLS",
    "book_json",
    "build_book_stream",
    "build_paced_frames",
    "build_stream",
    "event_json",
    "frame",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SYMBOLS = ("MSFT", "AAPL", "AMZN", "NVDA", "GOOG", "META", "TSLA", "NFLX")
_PRICES = (215.9721, 127.1450, 3120.5500, 523.2020, 1890.7700, 268.4100, 845.6600, 551.1000)
_EXCHANGES = (4, 11, 12, 4, 10, 11, 12, 4)
_T0 = 1611082428813  # ms


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    head = bytes((0x80 | opcode,))
    if n < 126:
        return head + bytes((n,)) + payload
    if n < 1 << 16:
        return head + b"\x7e" + struct.pack("!H", n) + payload
    return head + b"\x7f" + struct.pack("!Q", n) + payload


def event_json(q: int) -> str:
    """The ``q``-th trade (1-based), about 105-110 bytes of JSON."""
    k = (q - 1) % len(SYMBOLS)
    price = _PRICES[k] + (q % 97) * 0.0001
    return (
        f'{{"ev":"T","sym":"{SYMBOLS[k]}","i":"{50000 + q}","x":{_EXCHANGES[k]},"p":{price:.4f},'
        f'"s":{100 * (1 + q % 5)},"c":[37],"t":{_T0 + q // 8},"q":{q},"z":3}}'
    )


MARKET_SLUGS = tuple(f"bench-market-{k}" for k in range(8))
_NS_PLACEHOLDER = b"1000000000000000000"  # 19 digits, the width of time.time_ns() until 2286


def book_json(q: int, levels: int = 10) -> str:
    """The ``q``-th markets-socket book snapshot (1-based): ``levels`` bids and offers, ~1.2 KB at 10."""
    k = (q - 1) % len(MARKET_SLUGS)
    mid = 400 + (q * 7 + k * 13) % 200  # thousandths, so prices stay inside (0, 1)
    bids = ",".join(
        f'{{"px":{{"value":"0.{mid - 1 - i:03d}","currency":"USD"}},"qty":"{(q + i) % 900 + 10}.00"}}'
        for i in range(levels)
    )
    offers = ",".join(
        f'{{"px":{{"value":"0.{mid + 1 + i:03d}","currency":"USD"}},"qty":"{(q * 3 + i) % 900 + 10}.00"}}'
        for i in range(levels)
    )
    return (
        f'{{"requestId":"md-1","subscriptionType":"SUBSCRIPTION_TYPE_MARKET_DATA","marketData":'
        f'{{"marketSlug":"{MARKET_SLUGS[k]}","bids":[{bids}],"offers":[{offers}],"state":"MARKET_STATE_OPEN",'
        f'"stats":{{"lastTradePx":{{"value":"0.{mid:03d}","currency":"USD"}},"sharesTraded":"{q}",'
        f'"openInterest":"500000"}},"transactTime":"2026-11-20T15:30:00.{q % 1000000:06d}Z"}}}}'
    )


def build_book_stream(n: int, levels: int = 10) -> bytes:
    """The whole post-subscribe Polymarket stream: ``n`` one-book text frames."""
    return b"".join(frame(book_json(q, levels).encode()) for q in range(1, n + 1))


def events_payload(start: int, stop: int) -> bytes:
    """One frame's payload: the JSON array of the events ``q`` = ``start`` .. ``stop - 1``."""
    return ("[" + ",".join([event_json(q) for q in range(start, stop)]) + "]").encode()


def build_stream(n: int, batch: int) -> bytes:
    """The whole post-subscribe stream: ``ceil(n / batch)`` text frames of ``batch`` events."""
    starts = range(1, n + 1, batch)
    return b"".join(frame(events_payload(start, min(start + batch, n + 1))) for start in starts)


def _status(status: str, message: str) -> bytes:
    return frame(json.dumps([{"ev": "status", "status": status, "message": message}]).encode())


class _Conn:
    """A blocking server-side WebSocket connection: just enough of RFC 6455 for the benchmark."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("client closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self) -> str:
        """Read the upgrade request, answer 101 (no extensions); return the request path."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("client closed during the handshake")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        key = headers.get("sec-websocket-key")
        if key is None:
            raise ValueError(f"not a WebSocket upgrade: {lines[0]!r}")
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        self.sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        return lines[0].split(" ")[1] if " " in lines[0] else "/"

    def recv_frame(self) -> tuple[int, bytes]:
        """One client frame (masked): ``(opcode, payload)``."""
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read(8))
        mask = self._read(4) if b1 & 0x80 else b"\0\0\0\0"
        data = self._read(n)
        payload = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
        return b0 & 0x0F, payload

    def recv_action(self) -> dict[str, str]:
        """The next text/binary message as a JSON object, answering pings on the way."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode in (0x1, 0x2):
                obj = json.loads(payload)
                return obj if isinstance(obj, dict) else {}
            if opcode == 0x9:
                self.sock.sendall(frame(payload, 0xA))
            elif opcode == 0x8:
                raise EOFError("client sent close during setup")


def _setup(conn: _Conn, kind: str) -> None:
    """Handshake, then the dialect's auth/subscribe exchange up to the first subscription."""
    conn.sock.settimeout(30.0)
    conn.handshake()
    if kind == "polymarket":  # authenticated by the upgrade's headers; data follows a subscribe
        while "subscribe" not in conn.recv_action():
            pass
        return
    conn.sock.sendall(_status("connected", "Connected Successfully"))
    while True:
        msg = conn.recv_action()
        action = msg.get("action")
        if action == "auth":
            conn.sock.sendall(_status("auth_success", "authenticated"))
        elif action == "subscribe":
            conn.sock.sendall(_status("success", f"subscribed to: {msg.get('params', '')}"))
            return


def build_paced_frames(n: int, batch: int) -> list[bytes]:
    """The frames of :func:`build_stream`, each trade's ``t`` a placeholder for the send time."""
    frames: list[bytes] = []
    stamp = '"t":' + _NS_PLACEHOLDER.decode()
    for start in range(1, n + 1, batch):
        stop = min(start + batch, n + 1)
        payload = ",".join(event_json(q).replace(f'"t":{_T0 + q // 8}', stamp) for q in range(start, stop))
        frames.append(frame(f"[{payload}]".encode()))
    return frames


def _send_paced(conn: _Conn, frames: list[bytes], batch: int, rate: float) -> None:
    """Send ``frames`` at ``rate`` events/s in slices of at most 1 ms; ``t`` = the slice's send time."""
    sock = conn.sock
    per_frame = batch / rate
    t0 = time.perf_counter()
    i = 0
    while i < len(frames):
        due = min(len(frames), int((time.perf_counter() - t0) / per_frame) + 1)
        if due > i:
            chunk = b"".join(frames[i:due]).replace(_NS_PLACEHOLDER, str(time.time_ns()).encode())
            sock.sendall(chunk)
            i = due
        else:  # the next frame is due at i * per_frame
            time.sleep(max(0.0, min(0.001, i * per_frame - (time.perf_counter() - t0))))


def serve_one(
    conn: _Conn,
    stream: bytes,
    close_wait: float,
    *,
    kind: str = "massive",
    paced: tuple[list[bytes], int, float] | None = None,
) -> str:
    """Run one connection to its end; return a one-line outcome for the log."""
    _setup(conn, kind)
    conn.sock.settimeout(None)
    t0 = time.perf_counter()
    if paced is not None:
        _send_paced(conn, *paced)
    else:
        conn.sock.sendall(stream)
    sent = time.perf_counter() - t0
    conn.sock.settimeout(close_wait)
    while True:
        opcode, payload = conn.recv_frame()
        if opcode == 0x8:
            with contextlib.suppress(OSError):
                conn.sock.sendall(frame(payload[:2] or b"\x03\xe8", 0x8))
            return f"streamed in {sent:.3f} s; client closed cleanly"
        if opcode == 0x9:
            conn.sock.sendall(frame(payload, 0xA))


def main(argv: list[str] | None = None) -> int:
    """Parse flags, build the stream, serve connections until killed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, required=True, help="events per connection")
    p.add_argument("--batch", type=int, required=True, help="events per frame (Massive)")
    p.add_argument("--kind", choices=("massive", "polymarket"), default="massive", help="the dialect")
    p.add_argument("--levels", type=int, default=10, help="book levels a side (Polymarket)")
    p.add_argument("--rate", type=float, default=0.0, help="paced mode: events/s, send time in `t` (Massive)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cpu", type=int, default=1, help="pin to this CPU (-1: do not pin)")
    p.add_argument("--close-wait", type=float, default=30.0, help="seconds to wait for the client's close")
    p.add_argument("--verbose", action="store_true", help="log each connection's outcome on stderr")
    args = p.parse_args(argv)
    if args.cpu >= 0 and args.cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.cpu})
    t0 = time.perf_counter()
    paced = None
    if args.kind == "polymarket":
        if args.rate > 0:
            p.error("--rate is for the Massive dialect")
        stream = build_book_stream(args.n, args.levels)
    elif args.rate > 0:
        paced = (build_paced_frames(args.n, args.batch), args.batch, args.rate)
        stream = b"".join(paced[0])
    else:
        stream = build_stream(args.n, args.batch)
    print(
        f"stream_server: built {len(stream) / 1e6:.1f} MB ({args.kind}, {args.n} events, B={args.batch}) "
        f"in {time.perf_counter() - t0:.2f} s",
        file=sys.stderr,
    )
    with socket.create_server(("127.0.0.1", args.port)) as srv:
        print(f"READY {srv.getsockname()[1]}", flush=True)
        while True:
            sock, _ = srv.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                outcome = serve_one(_Conn(sock), stream, args.close_wait, kind=args.kind, paced=paced)
                if args.verbose:
                    print(f"stream_server: {outcome}", file=sys.stderr)
            except (OSError, EOFError, ValueError) as exc:
                print(f"stream_server: connection ended: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                sock.close()


if __name__ == "__main__":
    raise SystemExit(main())
