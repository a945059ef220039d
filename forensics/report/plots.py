"""The report's figures, each a function of the assessment returning PNG bytes.

Matplotlib's object API on the Agg canvas (no pyplot, no display, no global figure state), fixed
sizes and dpi, PNG written without the "Software" metadata, so the same data gives the same bytes.
Log text (user agents, paths) appears only as labels: mathtext is off (``text.parse_math``), so a
``$`` is a dollar sign, and control bytes are shown as ``\\xNN``. Empty inputs give a small
"no data" figure, never an error.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, ScalarFormatter

from forensics.assessment import STATUS_CLASSES, Assessment
from forensics.text import printable

if TYPE_CHECKING:  # matplotlib.typing.RcKeyType is newer than the lowest matplotlib admitted
    from matplotlib.typing import RcKeyType

DPI = 100
WIDTH = 11.0  # inches: 1100 px, the report's content width at 2x for print
LABEL_CHARS = 60
MAX_SOURCES = 6
MAX_ROUTES = 4
MAX_ACTORS = 10
OTHER = "\x00other"  # the series of the sources beyond MAX_SOURCES (no path contains NUL)

RC: dict[RcKeyType, Any] = {
    "text.parse_math": False,
    "text.usetex": False,
    "svg.hashsalt": "forensics",
    "svg.fonttype": "path",
    "timezone": "UTC",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
}
STATUS_COLOURS = {
    "2xx": "#2b8a3e",
    "3xx": "#74b816",
    "401/403": "#f59f00",
    "404": "#adb5bd",
    "other 4xx": "#845ef7",
    "5xx": "#c92a2a",
}
WINDOW_COLOUR = "#d0ebff"
GAP_COLOUR = "#ffa8a8"
UNAUTH_COLOUR = "#c92a2a"


def label(text: Any, limit: int = LABEL_CHARS) -> str:
    """Log text as a plot label: one line, control and invisible characters escaped, shortened."""
    s = printable(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _new(height: float) -> tuple[Figure, FigureCanvasAgg]:
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    return fig, FigureCanvasAgg(fig)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _no_data(fig: Figure, what: str) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", color="#868e96", fontsize=11)


def _render(height: float, draw: Callable[[Figure], None]) -> bytes:
    with mpl.rc_context(RC), warnings.catch_warnings():
        # a user agent in a script the font lacks draws boxes; that is not an error
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig, _ = _new(height)
        draw(fig)
        return _png(fig)


def _ts(iso: Any) -> datetime | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(str(iso))
    except ValueError:
        return None


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _shade_window(ax: Axes, document: dict[str, Any], gaps: bool) -> None:
    start, end = _ts(document["window"]["start"]), _ts(document["window"]["end"])
    if start is not None and end is not None:
        ax.axvspan(start, end, color=WINDOW_COLOUR, alpha=0.6, lw=0, label="window", zorder=0)  # type: ignore[arg-type]
    if gaps:
        first = True
        for g in document["coverage"]["gaps"]:
            gs, ge = _ts(g["start"]), _ts(g["end"])
            if gs is None or ge is None:
                continue
            ax.axvspan(
                gs,  # type: ignore[arg-type]
                ge,  # type: ignore[arg-type]
                color=GAP_COLOUR,
                alpha=0.8,
                lw=0,
                hatch="//",
                label="no logs" if first else None,
                zorder=1,
            )
            first = False


def _plain(axis: Any) -> None:
    """Plain tick numbers (no offset, no scientific notation: record ids read as themselves)."""
    axis.set_major_formatter(ScalarFormatter(useOffset=False, useMathText=False))
    axis.get_major_formatter().set_scientific(False)


def _bytes_tick(value: float, _pos: int | None = None) -> str:
    """Log-axis tick text without mathtext: 1 B, 10 B, 1 kB, 1 MB …"""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} B"


def _days(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["day"], utc=True)


def coverage(assessment: Assessment) -> bytes:
    """The window as a band, gaps shaded, events per day per source (top sources, rest 'other')."""
    doc, vol = assessment.document, assessment.daily_volume

    def draw(fig: Figure) -> None:
        if vol.empty and _ts(doc["window"]["start"]) is None:
            _no_data(fig, "no events and no window")
            return
        ax = fig.add_subplot()
        _shade_window(ax, doc, gaps=True)
        if not vol.empty:
            frame = vol.assign(day=_days(vol))
            totals = frame.groupby("source")["events"].sum().sort_values(ascending=False, kind="stable")
            ranked = sorted(totals.index, key=lambda s: (-int(totals[s]), str(s)))
            keep = ranked[:MAX_SOURCES]
            frame["series"] = frame["source"].where(frame["source"].isin(keep), OTHER)
            wide = frame.pivot_table(index="day", columns="series", values="events", aggfunc="sum")
            days = pd.date_range(wide.index.min(), wide.index.max(), freq="D")
            wide = wide.reindex(days, fill_value=0).fillna(0)
            names = [s for s in keep if s in wide.columns]
            if OTHER in wide.columns:
                names.append(OTHER)
            labels = [
                f"{len(ranked) - len(keep):,} other sources"
                if n == OTHER
                else label("/".join(str(n).rsplit("/", 2)[-2:]))  # folder/file: several access.log
                for n in names
            ]
            ax.stackplot(
                pd.DatetimeIndex(wide.index).to_pydatetime(),
                *[wide[n].to_numpy(dtype=float) for n in names],
                labels=labels,
                step="post",
                alpha=0.85,
                zorder=2,
            )
        else:
            ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", color="#868e96")
        ax.set_ylabel("events per day")
        _date_axis(ax)
        _plain(ax.yaxis)
        fig.legend(loc="outside lower center", ncols=3, fontsize=8)
        ax.set_title("Coverage: events per day and source against the window (UTC)", loc="left")

    return _render(3.6, draw)


def endpoint_daily(assessment: Assessment) -> bytes:
    """Requests per day to each endpoint stacked by status class; unauthenticated as a red line."""
    doc, frame = assessment.document, assessment.endpoint_daily
    if frame.empty:
        return _render(1.2, lambda fig: _no_data(fig, "no requests to the exposed endpoints"))
    frame = frame.assign(day=_days(frame))
    totals = frame.groupby("route")["requests"].sum()
    routes = sorted(totals.index, key=lambda r: (-int(totals[r]), str(r)))[:MAX_ROUTES]

    def draw(fig: Figure) -> None:
        axes = fig.subplots(len(routes), 1, sharex=True, squeeze=False)[:, 0]
        for ax, route in zip(axes, routes, strict=True):
            part = frame[frame["route"] == route]
            _shade_window(ax, doc, gaps=True)
            wide = part.pivot_table(index="day", columns="status_class", values="requests", aggfunc="sum")
            days = pd.date_range(wide.index.min(), wide.index.max(), freq="D")
            wide = wide.reindex(days, fill_value=0).fillna(0)
            x = pd.DatetimeIndex(wide.index).to_pydatetime()
            classes = [c for c in STATUS_CLASSES if c in wide.columns]
            classes += sorted(str(c) for c in wide.columns if c not in STATUS_CLASSES)
            ax.stackplot(x, *[wide[c].to_numpy(dtype=float) for c in classes], labels=classes, step="post",
                         colors=[STATUS_COLOURS.get(c, "#495057") for c in classes], zorder=2)  # fmt: skip
            unauth = (
                part[part["auth_state"] == "unauthenticated"].groupby("day")["requests"].sum().reindex(days)
            ).fillna(0)
            ax.step(x, unauth.to_numpy(dtype=float), where="post", color=UNAUTH_COLOUR, lw=1.4,
                    label="unauthenticated (all statuses)", zorder=3)  # fmt: skip
            ax.set_title(label(route, 100), loc="left")
            ax.set_ylabel("requests per day")
            _date_axis(ax)
            _plain(ax.yaxis)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=5, fontsize=8)

    return _render(1.2 + 2.4 * len(routes), draw)


def scatter(assessment: Assessment) -> bytes:
    """Record id against time, one colour per actor (legend of escaped labels)."""
    frame = assessment.scatter
    if frame.empty:
        return _render(1.2, lambda fig: _no_data(fig, "no record reads by the top actors"))
    counts = frame.groupby("actor_id").size()
    actors = sorted(counts.index, key=lambda a: (-int(counts[a]), str(a)))[:MAX_ACTORS]

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        _shade_window(ax, assessment.document, gaps=True)
        colours = mpl.colormaps["tab10"]
        for i, actor in enumerate(actors):
            part = frame[frame["actor_id"] == actor]
            unauth = bool(part["unauthorised"].any())
            name = label(part["label"].iloc[0])
            listed = int(part["basis"].notna().sum()) if "basis" in part else 0
            status = "unauthorised" if unauth else "not shown unauthorised"
            ax.scatter(
                pd.to_datetime(part["ts"], utc=True).dt.to_pydatetime(),
                part["y"].to_numpy(dtype=float),
                s=9,
                color=colours(i % 10),
                marker="o" if unauth else "x",
                linewidths=0.8,
                label=f"{name} ({status}, {len(part):,} reads, {listed:,} of listed records)",
                zorder=3,
                rasterized=False,
            )
        times = pd.to_datetime(frame["ts"], utc=True)
        pad = max((times.max() - times.min()) * 0.03, pd.Timedelta(minutes=10))
        ax.set_xlim(times.min() - pad, times.max() + pad)  # type: ignore[arg-type]
        pseudonymised = bool(assessment.document.get("pseudonymisation"))
        ax.set_ylabel("record id rank (ids pseudonymised)" if pseudonymised else "record id (or its rank)")
        _date_axis(ax)
        _plain(ax.yaxis)
        fig.legend(loc="outside lower center", ncols=2, fontsize=8, markerscale=2)
        ax.set_title("Record id against time for the top actors (UTC)", loc="left")

    return _render(4.6, draw)


def response_sizes(assessment: Assessment) -> bytes:
    """Histogram of response sizes per route on a log x-axis, stacked by status class."""
    frame = assessment.response_sizes
    if frame.empty:
        return _render(1.2, lambda fig: _no_data(fig, "no response sizes"))
    frame = frame.dropna(subset=["bytes"])
    if frame.empty:
        return _render(1.2, lambda fig: _no_data(fig, "no response sizes logged"))
    counts = frame.groupby("route").size()
    routes = sorted(counts.index, key=lambda r: (-int(counts[r]), str(r)))[:MAX_ROUTES]
    top = max(float(frame["bytes"].max()), 10.0)
    bins = np.logspace(0, np.log10(top) + 0.05, 50)

    def draw(fig: Figure) -> None:
        axes = fig.subplots(1, len(routes), squeeze=False)[0, :]
        for ax, route in zip(axes, routes, strict=True):
            part = frame[frame["route"] == route]
            classes = [c for c in STATUS_CLASSES if c in set(part["status_class"])]
            classes += sorted({str(c) for c in part["status_class"]} - set(STATUS_CLASSES))
            data = [np.clip(part.loc[part["status_class"] == c, "bytes"].to_numpy(dtype=float), 1, None)
                    for c in classes]  # fmt: skip
            ax.hist(data, bins=bins, stacked=True, label=classes,
                    color=[STATUS_COLOURS.get(c, "#495057") for c in classes])  # fmt: skip
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(_bytes_tick))
            ax.xaxis.set_minor_formatter(NullFormatter())
            _plain(ax.yaxis)
            ax.set_xlabel("response bytes (0 counted as 1)")
            ax.set_ylabel("responses")
            ax.set_title(label(route, 50), loc="left")
            ax.legend(fontsize=8)

    return _render(3.2, draw)


# name -> plot function; content.Figure blocks refer to these names
PLOTS: dict[str, Callable[[Assessment], bytes]] = {
    "coverage": coverage,
    "endpoint_daily": endpoint_daily,
    "scatter": scatter,
    "response_sizes": response_sizes,
}


def render_all(assessment: Assessment) -> dict[str, bytes]:
    """Every plot as PNG bytes, by name."""
    return {name: plot(assessment) for name, plot in PLOTS.items()}
