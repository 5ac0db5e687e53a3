from collections.abc import AsyncIterator, Callable
from typing import Any

class FrameReader:
    fast: int
    def __init__(
        self,
        slow: Callable[[Any, Any], None],
        session: object,
        queue: object,
        metrics: object,
        frame_type: type,
        probe: bytes,
        max_size: int,
        tapless: bool,
    ) -> None: ...
    def __call__(self, transport: Any, frame: Any) -> None: ...

class Flatten(AsyncIterator[Any]):
    def __init__(self, source: AsyncIterator[list[list[Any]]], depth: int = 2) -> None: ...
    def __aiter__(self) -> Flatten: ...
    async def __anext__(self) -> Any: ...
    async def aclose(self) -> None: ...

def frame_fields(frame: object) -> tuple[bytes, int, int]: ...
def dispatch_single(
    batches: list[list[Any]], single: dict[type, Callable[..., Any]], b: int, e: int, first: Any = ..., /
) -> tuple[int, int, Any] | None: ...
