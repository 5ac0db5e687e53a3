"""A deliberately slow consumer, run as its own process so its memory is its own: reads a stream
with ``overflow="drop_oldest"`` and a byte bound, and prints its RSS over time as JSON.

    python -m tests.stream.slow_reader URL QUEUE_BYTES SECONDS
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from tickwire import AsyncStreamClient


def _rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def main(url: str, queue_bytes: int, seconds: float) -> None:
    client = AsyncStreamClient(
        api_key="slow-reader",
        url=url,
        queue_size=10_000_000,
        queue_bytes=queue_bytes,
        overflow="drop_oldest",
        dotenv_path=None,
    )
    samples: list[tuple[float, int, int]] = []
    async with client:
        await client.subscribe("T.*", "Q.*")
        start = time.monotonic()
        next_sample = start
        async for batch in client.batches():
            now = time.monotonic()
            if now >= next_sample:
                samples.append((round(now - start, 2), _rss(), client.queue.bytes))
                next_sample = now + 0.5
            if now - start >= seconds:
                break
            await asyncio.sleep(
                0.005 * len(batch) / 50
            )  # about 10,000 events/s at most: slower than the feed
        m = client.metrics()
    out = {
        "samples": samples,
        "dropped": m.dropped,
        "peak_bytes": m.queue_peak_bytes,
        "disconnects": m.disconnects,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
