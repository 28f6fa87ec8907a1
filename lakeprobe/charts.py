"""The status page's charts, inline SVG (no server, no script): an RSE's availability per day over 30 days,
and the heat map of each copy link's throughput. Built from numbers and names escaped here: markup of ours.
A day or a link without data is drawn as no data: dashed, never in a colour of a verdict."""

import math
from html import escape

from markupsafe import Markup

from lakeprobe.availability import Tally
from lakeprobe.records import Record, Status

DAY_W, DAY_H = 6, 22  # one bar per UTC day
CELL_W, CELL_H, LABEL_W = 64, 24, 70  # one cell per source -> destination
# Throughput is not a verdict: a sequential blue scale from 1 MB/s (lightest) to 1 GB/s (darkest), log scale.
_SCALE = ((0xDE, 0xEB, 0xF7), (0x08, 0x30, 0x6B))
_LOW, _HIGH = 1e6, 1e9


def availability_chart(rse: str, days: list[tuple[str, Tally]]) -> Markup:
    """A bar per day, of the time measured that day: green up, red down, grey in downtime, stacked; a day
    nothing measured is an empty dashed bar."""
    bars = []
    for i, (day, tally) in enumerate(days):
        x = i * DAY_W
        if tally.availability is None:
            bars.append(
                f'<rect class="day nodata" data-day="{day}" x="{x + 0.5}" y="0.5" width="{DAY_W - 1.5}" '
                f'height="{DAY_H - 1}" fill="none" stroke="#999" stroke-dasharray="2,2">'
                f"<title>{day}: no data</title></rect>"
            )
            continue
        title = f"{day}: availability {100 * tally.availability:.1f}%"
        bars.append(f'<g class="day" data-day="{day}" data-availability="{100 * tally.availability:.1f}">')
        top = 0.0
        for seconds, colour in ((tally.down, "#d0312d"), (tally.downtime, "#8c8c8c"), (tally.up, "#2e9e44")):
            height = DAY_H * seconds / tally.measured
            if height > 0:
                bars.append(f'<rect x="{x}" y="{top:.2f}" width="{DAY_W - 1}" height="{height:.2f}" fill="{colour}"/>')
                top += height
        bars.append(f"<title>{title}</title></g>")
    width = max(1, len(days) * DAY_W)
    return Markup(
        f'<svg class="ar-chart" data-rse="{escape(rse)}" data-points="{len(days)}" width="{width}" '
        f'height="{DAY_H}" viewBox="0 0 {width} {DAY_H}" role="img" aria-label="availability per day">'
        + "".join(bars)
        + "</svg>"
    )


def throughput_heatmap(rses: list[str], copies: list[Record]) -> Markup:
    """Per source and destination, the best throughput of the link's latest copies that moved data (in
    any mode); a link with none (not copied, or every copy failed) is no data."""
    best: dict[tuple[str, str], float] = {}
    for r in copies:
        if r.status in (Status.PASS, Status.WARN) and r.throughput_Bps > 0:
            best[(r.rse, r.peer)] = max(best.get((r.rse, r.peer), 0.0), r.throughput_Bps)
    size = len(rses)
    width, height = LABEL_W + size * CELL_W, CELL_H * (size + 1)
    parts = [
        f'<text x="{LABEL_W - 4}" y="{CELL_H * 0.7}" text-anchor="end" font-size="10" fill="#555">from \\ to</text>'
    ]
    parts += [
        f'<text x="{LABEL_W + i * CELL_W + CELL_W / 2}" y="{CELL_H * 0.7}" text-anchor="middle" '
        f'font-size="11">{escape(rse)}</text>'
        for i, rse in enumerate(rses)
    ]
    for row, source in enumerate(rses):
        y = CELL_H * (row + 1)
        parts.append(f'<text x="{LABEL_W - 4}" y="{y + CELL_H * 0.65}" text-anchor="end" font-size="11">'
                     f"{escape(source)}</text>")  # fmt: skip
        for col, destination in enumerate(rses):
            if source == destination:
                continue
            parts.append(_link(source, destination, best.get((source, destination)), LABEL_W + col * CELL_W, y))
    return Markup(
        f'<svg class="heatmap" data-links="{size * (size - 1)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="throughput per link">' + "".join(parts) + "</svg>"
    )


def _link(source: str, destination: str, throughput: float | None, x: float, y: float) -> str:
    what = f'data-source="{escape(source)}" data-destination="{escape(destination)}"'
    box = f'x="{x + 1}" y="{y + 1}" width="{CELL_W - 2}" height="{CELL_H - 2}"'
    if throughput is None:
        return (
            f'<g class="link nodata" {what}><rect {box} fill="#eee" stroke="#999" stroke-dasharray="2,2"/>'
            f'<text x="{x + CELL_W / 2}" y="{y + CELL_H * 0.65}" text-anchor="middle" font-size="10" fill="#555">'
            f"no data</text><title>{escape(source)} -> {escape(destination)}: no copy moved data</title></g>"
        )
    share = min(1.0, max(0.0, math.log10(throughput / _LOW) / math.log10(_HIGH / _LOW)))
    colour = "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(*_SCALE, strict=True))
    ink = "#fff" if share > 0.5 else "#222"
    mbps = throughput / 1e6
    return (
        f'<g class="link" {what} data-mbps="{mbps:.1f}"><rect {box} fill="{colour}"/>'
        f'<text x="{x + CELL_W / 2}" y="{y + CELL_H * 0.65}" text-anchor="middle" font-size="10" fill="{ink}">'
        f"{mbps:.1f} MB/s</text><title>{escape(source)} -> {escape(destination)}: {mbps:.1f} MB/s</title></g>"
    )
