"""Downloaded history as tables: :class:`Bars` and :class:`Trades`, Arrow underneath.

Each result keeps the typed rows it was built from and builds one ``pyarrow.Table`` with
readable column names, a UTC timestamp column and fixed dtypes, sorted by time. pandas and
polars frames are made from that table (polars without a copy), and CSV and Parquet are
written from it too. An empty download gives an empty table *with the same columns* and a
:attr:`note` saying why it may be empty, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tickwire.massive.rest.models import Agg, Trade

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    import polars as pl
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

__all__ = ["BAR_COLUMNS", "TRADE_COLUMNS", "Bars", "Trades"]

BAR_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume", "vwap", "transactions")
TRADE_COLUMNS = (
    "timestamp",
    "participant_timestamp",
    "price",
    "size",
    "exchange",
    "conditions",
    "id",
    "sequence_number",
    "tape",
    "trf_id",
    "trf_timestamp",
)

R = TypeVar("R", Agg, Trade)


def _arrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("tables need pyarrow: pip install 'tickwire[rest]'") from exc
    return pyarrow


class _Table(Generic[R]):
    """What :class:`Bars` and :class:`Trades` share: rows, the Arrow table, the conversions."""

    time_column = "timestamp"

    def __init__(self, ticker: str, rows: Sequence[R], *, pages: int = 0, note: str = "") -> None:
        self.ticker = ticker
        self.rows: list[R] = list(rows)
        self.pages = pages
        self.note = note if not self.rows else ""

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows)

    @property
    def empty(self) -> bool:
        return not self.rows

    def _build(self) -> pa.Table:
        raise NotImplementedError

    @cached_property
    def table(self) -> pa.Table:
        """The rows as a ``pyarrow.Table`` sorted by time (built once)."""
        table = self._build()
        if table.num_rows > 1:
            table = table.sort_by(self.time_column)
        return table

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self, tz: str | None = None) -> pd.DataFrame:
        """A pandas DataFrame: UTC datetimes in ``timestamp`` (or in ``tz``, e.g. ``"America/New_York"``)."""
        df = self.table.to_pandas()
        if tz is not None:
            for name in df.columns:
                if str(df[name].dtype).startswith("datetime64"):
                    df[name] = df[name].dt.tz_convert(tz)
        return df

    def to_polars(self, tz: str | None = None) -> pl.DataFrame:
        """A polars DataFrame (zero-copy from Arrow); datetimes converted to ``tz`` if given."""
        import polars as pl

        frame = pl.from_arrow(self.table)
        assert isinstance(frame, pl.DataFrame)
        if tz is not None:
            frame = frame.with_columns(pl.col(pl.Datetime).dt.convert_time_zone(tz))
        return frame

    def to_csv(self, path: str | Path) -> Path:
        """Write a CSV file (ISO-8601 UTC timestamps); returns the path."""
        import pyarrow.csv as pcsv  # type: ignore[import-untyped, unused-ignore]

        out = Path(path)
        table = self.table
        if "conditions" in table.column_names:  # CSV has no lists: "12;41"
            table = table.set_column(
                table.column_names.index("conditions"),
                "conditions",
                _arrow().array(
                    [";".join(map(str, c)) if c else "" for c in table.column("conditions").to_pylist()],
                    _arrow().string(),
                ),
            )
        pcsv.write_csv(table, out)
        return out

    def to_parquet(self, path: str | Path) -> Path:
        """Write a Parquet file (zstd); returns the path."""
        import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

        out = Path(path)
        pq.write_table(self.table, out, compression="zstd")
        return out

    def save(self, path: str | Path) -> Path:
        """Write CSV or Parquet, chosen by the suffix (``.csv``, ``.parquet``/``.pq``)."""
        suffix = Path(path).suffix.lower()
        if suffix == ".csv":
            return self.to_csv(path)
        if suffix in (".parquet", ".pq"):
            return self.to_parquet(path)
        raise ValueError(f"cannot tell the format of {str(path)!r}: use a .csv or .parquet file name")


class Bars(_Table[Agg]):
    """Aggregate bars of one ticker: ``timestamp`` (bar start, UTC), ``open`` ... ``transactions``.

    ``bars.to_pandas(tz="America/New_York")``, ``bars.to_polars()``, ``bars.to_csv(path)``,
    ``bars.to_parquet(path)``, ``bars.plot("chart.png")``.
    """

    def __init__(
        self,
        ticker: str,
        rows: Sequence[Agg],
        *,
        multiplier: int = 1,
        timespan: str = "minute",
        pages: int = 0,
        note: str = "",
    ) -> None:
        super().__init__(ticker, rows, pages=pages, note=note)
        self.multiplier = multiplier
        self.timespan = timespan

    def __repr__(self) -> str:
        return (
            f"<Bars {self.ticker} {self.multiplier} {self.timespan}: {len(self)} bars, {self.pages} page(s)>"
        )

    def _build(self) -> pa.Table:
        pa = _arrow()
        rows = self.rows
        f64 = pa.float64()
        return pa.table(
            {
                "timestamp": pa.array([r.timestamp for r in rows], pa.timestamp("ms", tz="UTC")),
                "open": pa.array([r.open for r in rows], f64),
                "high": pa.array([r.high for r in rows], f64),
                "low": pa.array([r.low for r in rows], f64),
                "close": pa.array([r.close for r in rows], f64),
                "volume": pa.array([r.volume for r in rows], f64),
                "vwap": pa.array([r.vwap for r in rows], f64),
                "transactions": pa.array([r.transactions for r in rows], pa.int64()),
            }
        )

    def plot(self, path: str | Path, *, title: str | None = None, tz: str | None = None) -> Path:
        """Draw a candlestick chart with volume: PNG (matplotlib) or ``.html`` (interactive, plotly)."""
        from tickwire.massive.rest.plot import plot_bars

        return plot_bars(self, path, title=title, tz=tz)


class Trades(_Table[Trade]):
    """Trades of one ticker: ``timestamp`` (SIP time, UTC, ns), ``price``, ``size``, ``exchange``..."""

    def __repr__(self) -> str:
        return f"<Trades {self.ticker}: {len(self)} trades, {self.pages} page(s)>"

    def _build(self) -> pa.Table:
        pa = _arrow()
        rows = self.rows
        ts = pa.timestamp("ns", tz="UTC")
        return pa.table(
            {
                "timestamp": pa.array([r.sip_timestamp for r in rows], ts),
                "participant_timestamp": pa.array([r.participant_timestamp for r in rows], ts),
                "price": pa.array([r.price for r in rows], pa.float64()),
                "size": pa.array([r.size for r in rows], pa.float64()),
                "exchange": pa.array([r.exchange for r in rows], pa.int32()),
                "conditions": pa.array([r.conditions or [] for r in rows], pa.list_(pa.int32())),
                "id": pa.array([r.id for r in rows], pa.string()),
                "sequence_number": pa.array([r.sequence_number for r in rows], pa.int64()),
                "tape": pa.array([r.tape for r in rows], pa.int8()),
                "trf_id": pa.array([r.trf_id for r in rows], pa.int32()),
                "trf_timestamp": pa.array([r.trf_timestamp for r in rows], ts),
            }
        )
