"""The event an HA leader publishes when it takes over: where the stream may have a hole."""

from __future__ import annotations

from tickwire.events import ControlEvent

__all__ = ["FailoverGap"]


class FailoverGap(ControlEvent, tag="failover_gap", kw_only=True):
    """A new leader (``holder``, ``epoch``) took the HA lease over from ``previous_holder``.

    Between ``gap_start`` (when the stream last stored a message of the previous leader, Unix s)
    and ``gap_end`` (when this leader was connected upstream) the live feed was not recorded;
    ``backfilled`` events of that window (bars, trades) were fetched over REST and published
    (subjects as usual, journal ``backfill.<type>.<symbol>`` in their ``Nats-Msg-Id``; 0 when the
    provider has no REST history), ``error`` says what failed.
    Published on ``<prefix>.<namespace>.failover._`` with ``Nats-Msg-Id: failover:<epoch>``."""

    epoch: int
    holder: str
    previous_epoch: int
    previous_holder: str
    gap_start: float
    gap_end: float
    backfilled: int = 0
    error: str | None = None

    @property
    def gap_seconds(self) -> float:
        return max(0.0, self.gap_end - self.gap_start)
