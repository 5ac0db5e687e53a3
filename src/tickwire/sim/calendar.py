"""When the simulated markets trade: US equity sessions, NYSE holidays, 24/5 and 24/7 markets.

Each cluster has a *profile*; :func:`minute_factors` gives, for one UTC day, how busy each minute
is (0: closed, no prints; 1: the regular session's mean), which the market model multiplies into
its planned prints and volume:

* ``stocks``: pre-market 04:00-09:30 and after hours 16:00-20:00 US/Eastern (thin), the regular
  session 09:30-16:00 with a U-shaped volume (busy at the open, quiet at lunch, busy again into the
  close); closed at night, on weekends and on NYSE holidays (:func:`nyse_holidays`);
* ``options``, ``indices``: the regular session only (U-shaped), on NYSE trading days;
* ``forex``: 24/5, Sunday 17:00 to Friday 17:00 US/Eastern;
* ``futures``: Sunday 18:00 to Friday 17:00 US/Eastern, with the daily 17:00-18:00 break;
* ``crypto``: always.

:class:`MarketClock` is a simulator's clock; :func:`session_start_ms` picks its default start:
the wall clock while a regular session is on, else 11:00 US/Eastern of the latest trading day
(so a simulator started on a Sunday night still streams a busy market, and its timestamps are
real session times).
"""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "ET",
    "START_ENV",
    "MarketClock",
    "is_trading_day",
    "minute_factors",
    "nyse_holidays",
    "profile_of",
    "session_start_ms",
]

ET = ZoneInfo("America/New_York")
_MINUTES = 1_440
_PRE, _OPEN, _CLOSE, _POST = 4 * 60, 9 * 60 + 30, 16 * 60, 20 * 60
_PRE_FACTOR, _POST_FACTOR = 0.12, 0.08
START_ENV = "TICKWIRE_SIM_START"
"""Unix ms where simulators' market clocks start by default (instead of :func:`session_start_ms`)."""
_PROFILES = {"stocks", "options", "indices", "forex", "futures", "crypto"}


def profile_of(cluster: str) -> str:
    """The session profile of a cluster (``futures/cme`` → ``futures``; unknown → ``crypto``: always on)."""
    fam = "futures" if cluster.startswith("futures") else cluster
    return fam if fam in _PROFILES else "crypto"


@cache
def nyse_holidays(year: int) -> frozenset[date]:
    """NYSE full-day holidays of ``year`` (New Year's Day, MLK Day, Presidents' Day, Good Friday,
    Memorial Day, Juneteenth from 2022, Independence Day, Labor Day, Thanksgiving, Christmas), with
    the exchange's rule for holidays on a weekend (Saturday → Friday before, Sunday → Monday after;
    a New Year's Day on a Saturday is not moved into the old year)."""

    def observed(d: date) -> date:
        if d.weekday() == 5:
            return d - timedelta(days=1)
        if d.weekday() == 6:
            return d + timedelta(days=1)
        return d

    def nth(month: int, weekday: int, n: int) -> date:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    def last(month: int, weekday: int) -> date:
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        d = nxt - timedelta(days=1)
        return d - timedelta(days=(d.weekday() - weekday) % 7)

    days = {
        nth(1, 0, 3),  # Martin Luther King Jr. Day
        nth(2, 0, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        last(5, 0),  # Memorial Day
        observed(date(year, 7, 4)),
        nth(9, 0, 1),  # Labor Day
        nth(11, 3, 4),  # Thanksgiving
        observed(date(year, 12, 25)),
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:
        days.add(observed(new_year))
    if year >= 2022:
        days.add(observed(date(year, 6, 19)))
    return frozenset(days)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return date(year, month, day + 1)


def is_trading_day(d: date) -> bool:
    """A weekday that is not an NYSE holiday."""
    return d.weekday() < 5 and d not in nyse_holidays(d.year)


def _u_shape(x: float) -> float:
    """Regular-session intensity at fraction ``x`` of the session (before normalising): about 3x
    the lunchtime level at the open and 2.5x into the close."""
    return 0.55 + 1.4 * math.exp(-x / 0.07) + 1.0 * math.exp(-(1.0 - x) / 0.06)


_U_MEAN = sum(_u_shape((k + 0.5) / 390) for k in range(390)) / 390


def _regular(minute_et: int) -> float:
    return _u_shape((minute_et - _OPEN + 0.5) / (_CLOSE - _OPEN)) / _U_MEAN


def _factor(profile: str, local: datetime) -> float:
    """The intensity of the minute starting at ``local`` (US/Eastern)."""
    mins = local.hour * 60 + local.minute
    wd = local.weekday()
    if profile == "crypto":
        return 1.0
    if profile == "forex":  # Sunday 17:00 to Friday 17:00
        closed = wd == 5 or (wd == 6 and mins < 17 * 60) or (wd == 4 and mins >= 17 * 60)
        return 0.0 if closed else 1.0
    if profile == "futures":  # Sunday 18:00 to Friday 17:00, daily break 17:00-18:00
        if wd == 5 or (wd == 6 and mins < 18 * 60) or (wd == 4 and mins >= 17 * 60):
            return 0.0
        return 0.0 if 17 * 60 <= mins < 18 * 60 else 1.0
    if not is_trading_day(local.date()):
        return 0.0
    if _OPEN <= mins < _CLOSE:
        return _regular(mins)
    if profile == "stocks":
        if _PRE <= mins < _OPEN:
            return _PRE_FACTOR
        if _CLOSE <= mins < _POST:
            return _POST_FACTOR
    return 0.0


@lru_cache(maxsize=256)
def minute_factors(profile: str, day: int) -> tuple[float, ...]:
    """How busy each of the 1440 minutes of UTC day ``day`` (days since the Unix epoch) is."""
    if profile == "crypto":
        return (1.0,) * _MINUTES
    start = datetime.fromtimestamp(day * 86_400, tz=UTC)
    minute = timedelta(minutes=1)
    return tuple(_factor(profile, (start + m * minute).astimezone(ET)) for m in range(_MINUTES))


def session_start_ms(now_ms: int) -> int:
    """The simulators' default market clock at start: ``now_ms`` from an hour after the open to half
    an hour before the close of a trading day (so looking an hour back stays in the session), else
    11:00 US/Eastern of the latest trading day before ``now_ms``."""
    local = datetime.fromtimestamp(now_ms / 1000, tz=ET)
    mins = local.hour * 60 + local.minute
    if is_trading_day(local.date()) and _OPEN + 60 <= mins < _CLOSE - 30:
        return now_ms
    d = local.date()
    if mins < 11 * 60 or not is_trading_day(d):
        d -= timedelta(days=1)
    while not is_trading_day(d):
        d -= timedelta(days=1)
    eleven = datetime(d.year, d.month, d.day, 11, 0, tzinfo=ET)
    return int(eleven.timestamp() * 1000) + now_ms % 1000


class MarketClock:
    """A simulator's market clock: starts at ``start`` (``"session"``: :func:`session_start_ms`, or
    Unix ms from ``$TICKWIRE_SIM_START`` when set; ``"now"``: the wall clock; or Unix ms) and runs
    ``speed`` times as fast as the wall clock."""

    __slots__ = ("_offset_ms", "_wall0_ns", "speed", "start_ms")

    def __init__(self, start: str | int = "session", speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self._wall0_ns = time.time_ns()
        wall_ms = self._wall0_ns // 1_000_000
        env = os.environ.get(START_ENV, "").strip()
        if start == "session" and env:
            try:
                start = int(env)
            except ValueError:
                raise ValueError(f"${START_ENV} must be Unix ms, not {env[:40]!r}") from None
        if start == "session":
            self.start_ms = session_start_ms(wall_ms)
        elif start == "now":
            self.start_ms = wall_ms
        elif isinstance(start, int) and not isinstance(start, bool):
            self.start_ms = start
        else:
            raise ValueError(f"start must be 'session', 'now' or Unix ms, not {start!r}")
        self.speed = speed
        self._offset_ms = self.start_ms - wall_ms

    @property
    def shifted(self) -> bool:
        """Whether market time differs from the wall clock (a start outside a session, or ``speed``)."""
        return self._offset_ms != 0 or self.speed != 1.0

    def now_ms(self) -> int:
        """Market time in Unix ms."""
        now = time.time_ns()
        if self.speed == 1.0:
            return now // 1_000_000 + self._offset_ms
        return self.start_ms + int((now - self._wall0_ns) * self.speed) // 1_000_000
