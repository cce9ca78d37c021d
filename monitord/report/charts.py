"""The report's charts as PNG (inline images, CID: Gmail and Outlook show no SVG), drawn with
matplotlib's Agg backend (no display, no GUI toolkit)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from monitord.report.model import Report

CHART_SIZE = (6.4, 2.4)
"""Inches at :data:`CHART_DPI`: 640 × 240 px, the width of a mail client's reading pane."""
CHART_DPI = 100

GOOD, BAD, MUTED, INK = "#2e7d32", "#c62828", "#9e9e9e", "#263238"


def _figure() -> tuple[Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=CHART_SIZE, dpi=CHART_DPI)
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8, colors=INK)
    return fig, ax


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def daily_availability_png(report: Report) -> bytes:
    """One bar per day: its availability (grey where nothing was measured)."""
    fig, ax = _figure()
    days = [d.day for d, _ in report.daily]
    values = [v for _, v in report.daily]
    measured = [v for v in values if v is not None]
    floor = min([99.0, *measured]) if measured else 99.0
    floor = max(0.0, floor - (100.0 - floor) * 0.25 - 0.1)
    colours = [MUTED if v is None else GOOD if v >= 99.9 else BAD for v in values]
    heights = [100.0 - floor if v is None else v - floor for v in values]
    ax.bar(days, heights, bottom=floor, color=colours, width=0.75)
    ax.set_ylim(floor, 100.05)
    ax.set_xlim(0.4, len(days) + 0.6)
    ax.set_xticks(days[::2] if len(days) > 16 else days)
    ax.set_ylabel("available %", fontsize=8, color=INK)
    ax.set_title("Daily availability", fontsize=10, color=INK, loc="left")
    return _png(fig)


def hours_png(report: Report) -> bytes:
    """Hours used, day by day, against the month's available hours."""
    fig, ax = _figure()
    h = report.hours
    if h is None:
        ax.text(0.5, 0.5, "no support contract", ha="center", va="center", color=MUTED)
        ax.set_axis_off()
        return _png(fig)
    days = [d.day for d, _ in h.cumulative]
    used = [m / 60 for _, m in h.cumulative]
    available = h.available / 60
    over = used[-1] > available if used else False
    ax.step(days, used, where="post", color=BAD if over else INK, linewidth=2, label="used")
    ax.fill_between(days, used, step="post", color=BAD if over else INK, alpha=0.12)
    ax.axhline(available, color=GOOD, linestyle="--", linewidth=1.5, label="available")
    ax.axhline(h.allowance / 60, color=MUTED, linestyle=":", linewidth=1, label="allowance")
    ax.set_ylim(0, max([available, *used]) * 1.15 or 1)
    ax.set_xlim(1, len(days))
    ax.set_ylabel("hours", fontsize=8, color=INK)
    ax.set_title("Support hours used", fontsize=10, color=INK, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return _png(fig)
