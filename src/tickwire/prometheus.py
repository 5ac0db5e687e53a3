"""Prometheus text format (0.0.4) for ``/metrics``: the dashboard's and the gateway's figures (stdlib only,
so the gateway needs no web framework)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["CONTENT_TYPE", "Metric", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Metric:
    """One metric family: ``samples`` maps a label set (tuple of pairs) to a value."""

    name: str
    kind: str  # counter | gauge
    help: str
    samples: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)

    @classmethod
    def single(cls, name: str, kind: str, help: str, value: float | None) -> Metric:
        m = cls(name, kind, help)
        if value is not None:
            m.samples[()] = value
        return m

    @classmethod
    def labelled(cls, name: str, kind: str, help: str, label: str, values: Mapping[str, float]) -> Metric:
        m = cls(name, kind, help)
        for key, value in values.items():
            m.samples[((label, key),)] = value
        return m


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def render(metrics: Iterable[Metric]) -> str:
    """The exposition text: ``# HELP``, ``# TYPE`` and one line per sample."""
    lines: list[str] = []
    for m in metrics:
        lines.append(f"# HELP {m.name} {m.help}")
        lines.append(f"# TYPE {m.name} {m.kind}")
        for labels, value in m.samples.items():
            tag = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{m.name}{{{tag}}} {_number(value)}" if tag else f"{m.name} {_number(value)}")
    return "\n".join(lines) + "\n"
