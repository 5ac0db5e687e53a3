"""A Massive-dialect stream server for throughput benchmarks (127.0.0.1 only).

It builds the whole post-subscribe byte stream once at start-up (N Polygon ``T`` events, B per
unmasked text frame, 8 rotating symbols, ``q`` from 1 to N), prints ``READY <port>`` on stdout and
then serves connections one at a time: WebSocket handshake, ``connected`` status, ``auth_success``
after an ``auth`` action, ``subscribed to: ...`` after a ``subscribe`` action, then the stream with
one blocking ``sendall`` (no per-frame Python work, so the server is never the bottleneck). It then
answers the client's close frame and waits for the next connection.

Run: ``python benchmarks/stream_server.py --n 1000000 --batch 50 [--port 0] [--cpu 1]``.
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

__all__ = ["SYMBOLS", "build_stream", "event_json", "frame"]

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


def build_stream(n: int, batch: int) -> bytes:
    """The whole post-subscribe stream: ``ceil(n / batch)`` text frames of ``batch`` events."""
    out = []
    for start in range(1, n + 1, batch):
        stop = min(start + batch, n + 1)
        payload = ("[" + ",".join([event_json(q) for q in range(start, stop)]) + "]").encode()
        out.append(frame(payload))
    return b"".join(out)


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


def serve_one(conn: _Conn, stream: bytes, close_wait: float) -> str:
    """Run one connection to its end; return a one-line outcome for the log."""
    conn.sock.settimeout(30.0)
    conn.handshake()
    conn.sock.sendall(_status("connected", "Connected Successfully"))
    subscribed = False
    while not subscribed:
        msg = conn.recv_action()
        action = msg.get("action")
        if action == "auth":
            conn.sock.sendall(_status("auth_success", "authenticated"))
        elif action == "subscribe":
            conn.sock.sendall(_status("success", f"subscribed to: {msg.get('params', '')}"))
            subscribed = True
    conn.sock.settimeout(None)
    t0 = time.perf_counter()
    conn.sock.sendall(stream)
    sent = time.perf_counter() - t0
    conn.sock.settimeout(close_wait)
    while True:
        opcode, payload = conn.recv_frame()
        if opcode == 0x8:
            with contextlib.suppress(OSError):
                conn.sock.sendall(frame(payload[:2] or b"\x03\xe8", 0x8))
            return f"streamed {len(stream)} bytes in {sent:.3f} s; client closed cleanly"
        if opcode == 0x9:
            conn.sock.sendall(frame(payload, 0xA))


def main(argv: list[str] | None = None) -> int:
    """Parse flags, build the stream, serve connections until killed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, required=True, help="events per connection")
    p.add_argument("--batch", type=int, required=True, help="events per frame")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cpu", type=int, default=1, help="pin to this CPU (-1: do not pin)")
    p.add_argument("--close-wait", type=float, default=30.0, help="seconds to wait for the client's close")
    p.add_argument("--verbose", action="store_true", help="log each connection's outcome on stderr")
    args = p.parse_args(argv)
    if args.cpu >= 0 and args.cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.cpu})
    t0 = time.perf_counter()
    stream = build_stream(args.n, args.batch)
    print(
        f"stream_server: built {len(stream) / 1e6:.1f} MB ({args.n} events, B={args.batch}) "
        f"in {time.perf_counter() - t0:.2f} s",
        file=sys.stderr,
    )
    with socket.create_server(("127.0.0.1", args.port)) as srv:
        print(f"READY {srv.getsockname()[1]}", flush=True)
        while True:
            sock, _ = srv.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                outcome = serve_one(_Conn(sock), stream, args.close_wait)
                if args.verbose:
                    print(f"stream_server: {outcome}", file=sys.stderr)
            except (OSError, EOFError, ValueError) as exc:
                print(f"stream_server: connection ended: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                sock.close()


if __name__ == "__main__":
    raise SystemExit(main())
