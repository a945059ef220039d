"""The report's figures: each plot function takes the assessment and returns a ``Plot``, a
matplotlib ``Figure`` with the alt text that says in words what it draws; ``png`` renders one.

Matplotlib's object API on the Agg canvas (no pyplot, no display, no global figure state), fixed
sizes and dpi, PNG written without the "Software" metadata, so the same data gives the same bytes.
Log text (user agents, paths) appears only as labels: mathtext is off (``text.parse_math``), so a
``$`` is a dollar sign, and control bytes are shown as ``\\xNN``. Empty inputs give a small
"no data" figure, never an error.

Colours: the Okabe-Ito palette (safe for the common colour-vision deficiencies), with shape or
hatching beside colour where it carries meaning. "No logs" is never a colour a source can take:
it is black hatching on white, and the sources are solid fills (tests/test_plots.py measures the
distance). The record-id plot draws one panel per attacker session, each zoomed to that session's
own time span and ids, so a walk is a diagonal rather than a vertical stroke on a scale of weeks.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, ScalarFormatter

from forensics.assess.assessment import STATUS_CLASSES, Assessment
from forensics.assess.document import FindingsDocument
from forensics.store.printable import printable

if TYPE_CHECKING:  # matplotlib.typing.RcKeyType is newer than the lowest matplotlib admitted
    from matplotlib.typing import RcKeyType

DPI = 100
WIDTH = 11.0  # inches: 1100 px, the report's content width at 2x for print
LABEL_CHARS = 60
MAX_SOURCES = 6
MAX_ROUTES = 8  # endpoints drawn; more are named as not drawn (findings.json has them all)
MAX_SESSIONS = 6  # record-id panels
SESSION_GAP_S = 1800.0  # a pause longer than this starts a new session (the case's --session-gap)
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
# Okabe & Ito (2008), "Color Universal Design": distinguishable with protanopia, deuteranopia
# and tritanopia alike.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "black": "#000000",
}
SOURCE_COLOURS = [
    OKABE_ITO[c] for c in ("blue", "orange", "bluish green", "sky blue", "reddish purple", "yellow")
]
OTHER_SOURCES_COLOUR = "#595959"  # dark grey: the sources beyond MAX_SOURCES, together
STATUS_COLOURS = {
    "2xx": OKABE_ITO["bluish green"],
    "3xx": OKABE_ITO["sky blue"],
    "401/403": OKABE_ITO["orange"],
    "404": "#B3B3B3",
    "other 4xx": OKABE_ITO["reddish purple"],
    "other": OKABE_ITO["reddish purple"],
    "5xx": OKABE_ITO["blue"],
}
WINDOW_COLOUR = "#E8EEF5"  # a pale band behind everything: the exposure window
GAP_FACE = "#FFFFFF"  # no logs: white, hatched in black; no source is white or hatched
GAP_HATCH = "#000000"
UNAUTH_COLOUR = OKABE_ITO["vermillion"]
READ_STYLES = {  # record-id panels: (legend text, colour, marker) per basis of a read
    "confirmed": ("read delivering a confirmed record", OKABE_ITO["vermillion"], "o"),
    "probable": ("read delivering a probable record", OKABE_ITO["orange"], "^"),
    None: ("other read", OKABE_ITO["blue"], "x"),
}


@dataclass(frozen=True)
class Plot:
    """A drawn figure and its alt text (what it shows, in words, for a reader who cannot see it)."""

    figure: Figure
    alt: str

    def _repr_png_(self) -> bytes:  # a notebook shows the plot itself
        return png(self)


@dataclass(frozen=True)
class Rendered:
    """A plot as the report writer embeds it: PNG bytes and alt text."""

    png: bytes
    alt: str


def label(text: Any, limit: int = LABEL_CHARS) -> str:
    """Log text as a plot label: one line, control and invisible characters escaped, shortened."""
    s = printable(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def png(plot: Plot) -> bytes:
    """The plot as PNG bytes: the same data gives the same bytes (no "Software" metadata)."""
    return _png(plot.figure)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with mpl.rc_context(RC), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _no_data(fig: Figure, what: str) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", color="#595959", fontsize=11)


def _draw(height: float, draw: Callable[[Figure], None], alt: str) -> Plot:
    with mpl.rc_context(RC), warnings.catch_warnings():
        # a user agent in a script the font lacks draws boxes; that is not an error
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        draw(fig)
    return Plot(fig, printable(alt))


def _empty(what: str, alt: str) -> Plot:
    return _draw(1.2, lambda fig: _no_data(fig, what), alt)


def _ts(iso: Any) -> datetime | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(str(iso))
    except ValueError:
        return None


def _when(t: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "?" if t is None or pd.isna(t) else pd.Timestamp(t).tz_convert(UTC).strftime(fmt)


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]


def _gaps(document: FindingsDocument) -> list[tuple[datetime, datetime]]:
    out = []
    for g in document["coverage"]["gaps"]:
        gs, ge = _ts(g["start"]), _ts(g["end"])
        if gs is not None and ge is not None:
            out.append((gs, ge))
    return out


def _shade_window(ax: Axes, document: FindingsDocument, gaps: bool) -> None:
    start, end = _ts(document["window"]["start"]), _ts(document["window"]["end"])
    if start is not None and end is not None:
        ax.axvspan(start, end, color=WINDOW_COLOUR, lw=0, label="exposure window", zorder=0)  # type: ignore[arg-type]
    if gaps:
        for i, (gs, ge) in enumerate(_gaps(document)):
            ax.axvspan(
                gs,  # type: ignore[arg-type]
                ge,  # type: ignore[arg-type]
                facecolor=GAP_FACE,
                edgecolor=GAP_HATCH,
                hatch="///",
                lw=0,
                label="no logs" if i == 0 else None,
                zorder=1,
            )


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


def _size(value: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


def _days(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["day"], utc=True)


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"


def _source_name(path: Any) -> str:
    return label("/".join(str(path).rsplit("/", 2)[-2:]))  # folder/file: several access.log


def _coverage_alt(doc: FindingsDocument, vol: pd.DataFrame, n_sources: int) -> str:
    parts = ["Coverage timeline (UTC)."]
    ws, we = doc["window"]["start"], doc["window"]["end"]
    if ws and we:
        parts.append(f"Exposure window {ws} to {we}, shaded.")
    if not vol.empty:
        days = _days(vol)
        per_day = vol.assign(day=days).groupby("day")["events"].sum()
        parts.append(
            f"Events per day from {n_sources:,} sources, stacked, {_when(days.min(), '%Y-%m-%d')} to "
            f"{_when(days.max(), '%Y-%m-%d')}: {int(per_day.sum()):,} events, at most {int(per_day.max()):,} "
            "a day."
        )
    else:
        parts.append("No events.")
    gaps = _gaps(doc)
    if gaps:
        longest = max(gaps, key=lambda g: (g[1] - g[0], g[0]))
        parts.append(
            f"{len(gaps):,} period{'s' if len(gaps) != 1 else ''} without logs in the window, hatched; "
            f"the longest {_duration((longest[1] - longest[0]).total_seconds())} from "
            f"{_when(longest[0])} to {_when(longest[1])}."
        )
    else:
        parts.append("No period without logs in the window.")
    return " ".join(parts)


def coverage(assessment: Assessment) -> Plot:
    """The window as a band, gaps hatched, events per day per source (top sources, rest 'other')."""
    doc, vol = assessment.doc, assessment.daily_volume
    n_sources = int(vol["source"].nunique()) if not vol.empty else 0

    def draw(fig: Figure) -> None:
        if vol.empty and _ts(doc["window"]["start"]) is None:
            _no_data(fig, "no events and no window")
            return
        ax = fig.add_subplot()
        _shade_window(ax, doc, gaps=True)
        if not vol.empty:
            frame = vol.assign(day=_days(vol))
            totals = frame.groupby("source")["events"].sum()
            ranked = sorted(totals.index, key=lambda s: (-int(totals[s]), str(s)))
            keep = ranked[:MAX_SOURCES]
            frame["series"] = frame["source"].where(frame["source"].isin(keep), OTHER)
            wide = frame.pivot_table(index="day", columns="series", values="events", aggfunc="sum")
            days = pd.date_range(wide.index.min(), wide.index.max() + pd.Timedelta(days=1), freq="D")
            wide = wide.reindex(days, fill_value=0).fillna(0)
            names = [s for s in keep if s in wide.columns]
            colours = SOURCE_COLOURS[: len(names)]
            if OTHER in wide.columns:
                names.append(OTHER)
                colours.append(OTHER_SOURCES_COLOUR)
            labels = [
                f"{len(ranked) - len(keep):,} other sources" if n == OTHER else _source_name(n) for n in names
            ]
            ax.stackplot(
                pd.DatetimeIndex(wide.index).to_pydatetime(),
                *[wide[n].to_numpy(dtype=float) for n in names],
                labels=labels,
                colors=colours,
                step="post",
                zorder=2,
            )
        else:
            ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", color="#595959")
        ax.set_ylabel("events per day")
        _date_axis(ax)
        _plain(ax.yaxis)
        fig.legend(loc="outside lower center", ncols=4, fontsize=8)
        ax.set_title("Coverage: events per day and source against the window (UTC)", loc="left")

    return _draw(3.6, draw, _coverage_alt(doc, vol, n_sources))


def _ranked_routes(frame: pd.DataFrame, weight: pd.Series) -> tuple[list[str], int]:
    totals = weight.groupby(frame["route"]).sum()
    routes = sorted(totals.index, key=lambda r: (-float(totals[r]), str(r)))
    return [str(r) for r in routes[:MAX_ROUTES]], max(len(routes) - MAX_ROUTES, 0)


def _not_drawn(fig: Figure, hidden: int) -> None:
    if hidden:
        fig.text(0.99, 0.995, f"{hidden:,} more endpoints not drawn (all are in findings.json)",
                 ha="right", va="top", fontsize=8, color="#595959")  # fmt: skip


def endpoint_daily(assessment: Assessment) -> Plot:
    """Requests per day to each record-bearing endpoint (record, list and bulk endpoints), stacked
    by status class; unauthenticated requests as a line."""
    doc, frame = assessment.doc, assessment.endpoint_daily
    if frame.empty:
        return _empty("no requests to the exposed endpoints", "No requests to the exposed endpoints.")
    frame = frame.assign(day=_days(frame))
    routes, hidden = _ranked_routes(frame, frame["requests"])
    alt = [f"Requests per day to {len(routes) + hidden:,} exposed endpoints by response status (UTC), "
           "one panel each, the window shaded, periods without logs hatched."]  # fmt: skip
    for route in routes:
        part = frame[frame["route"] == route]
        unauth = int(part.loc[part["auth_state"] == "unauthenticated", "requests"].sum())
        ok = int(part.loc[part["status_class"] == "2xx", "requests"].sum())
        busiest = part.groupby("day")["requests"].sum()
        alt.append(
            f"{route}: {int(part['requests'].sum()):,} requests, {ok:,} answered 2xx, {unauth:,} "
            f"unauthenticated; busiest day {_when(busiest.idxmax(), '%Y-%m-%d')} with {int(busiest.max()):,}."
        )
    if hidden:
        alt.append(f"{hidden:,} more endpoints are not drawn.")

    def draw(fig: Figure) -> None:
        axes = fig.subplots(len(routes), 1, sharex=True, squeeze=False)[:, 0]
        for ax, route in zip(axes, routes, strict=True):
            part = frame[frame["route"] == route]
            _shade_window(ax, doc, gaps=True)
            wide = part.pivot_table(index="day", columns="status_class", values="requests", aggfunc="sum")
            days = pd.date_range(wide.index.min(), wide.index.max() + pd.Timedelta(days=1), freq="D")
            wide = wide.reindex(days, fill_value=0).fillna(0)
            x = pd.DatetimeIndex(wide.index).to_pydatetime()
            classes = [c for c in STATUS_CLASSES if c in wide.columns]
            classes += sorted(str(c) for c in wide.columns if c not in STATUS_CLASSES)
            ax.stackplot(x, *[wide[c].to_numpy(dtype=float) for c in classes], labels=classes, step="post",
                         colors=[STATUS_COLOURS.get(c, "#595959") for c in classes], zorder=2)  # fmt: skip
            unauth = (
                part[part["auth_state"] == "unauthenticated"].groupby("day")["requests"].sum().reindex(days)
            ).fillna(0)
            ax.step(x, unauth.to_numpy(dtype=float), where="post", color=UNAUTH_COLOUR, lw=1.6, ls="--",
                    label="unauthenticated (all statuses)", zorder=3)  # fmt: skip
            ax.set_title(label(route, 100), loc="left")
            ax.set_ylabel("requests per day")
            _date_axis(ax)
            _plain(ax.yaxis)
        handles: dict[str, Any] = {}
        for ax in axes:  # every status class drawn in any panel, once
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=5, fontsize=8)
        _not_drawn(fig, hidden)

    return _draw(1.2 + 2.2 * len(routes), draw, " ".join(alt))


def sessions(frame: pd.DataFrame, gap_s: float = SESSION_GAP_S) -> pd.DataFrame:
    """The scatter frame's reads cut into sessions: per actor, a pause over ``gap_s`` seconds starts
    a new one. One row per (actor_id, session): label, unauthorised, reads, ids, listed (reads
    delivering a listed record), confirmed, start, end, y_min, y_max, rho (rank correlation of time
    and id: near 1 for a walk up the ids), sorted attackers first, then by listed reads, reads."""
    f = frame.assign(ts=pd.to_datetime(frame["ts"], utc=True))
    if "basis" not in f:
        f["basis"] = None
    f = f.sort_values(["actor_id", "ts", "y"], kind="stable")
    gap = pd.Timedelta(seconds=gap_s)
    f["session"] = (f.groupby("actor_id")["ts"].diff() > gap).astype(int).groupby(f["actor_id"]).cumsum()
    rows = []
    for (actor, session), g in f.groupby(["actor_id", "session"], sort=True):
        rho = float("nan")
        if len(g) >= 3 and g["ts"].nunique() > 1 and g["y"].nunique() > 1:
            rho = float(g["ts"].rank().corr(g["y"].rank()))
        rows.append(
            {
                "actor_id": actor,
                "session": int(session),  # type: ignore[call-overload]
                "label": g["label"].iloc[0],
                "unauthorised": bool(g["unauthorised"].any()),
                "reads": len(g),
                "ids": int(g["record_id"].nunique()) if "record_id" in g else int(g["y"].nunique()),
                "listed": int(g["basis"].notna().sum()),
                "confirmed": int((g["basis"] == "confirmed").sum()),
                "start": g["ts"].min(),
                "end": g["ts"].max(),
                "y_min": float(g["y"].min()),
                "y_max": float(g["y"].max()),
                "rho": rho,
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.sort_values(
        ["unauthorised", "listed", "reads", "start", "actor_id"], ascending=[False, False, False, True, True]
    )
    return out.reset_index(drop=True)


def _pick_sessions(all_sessions: pd.DataFrame) -> pd.DataFrame:
    """The attacker sessions drawn: each attacker's best session first (every attacker gets a
    panel while there is room), then the next best; without attackers, the top actors' sessions."""
    pool = all_sessions[all_sessions["unauthorised"]]
    if pool.empty:
        pool = all_sessions
    firsts = pool.drop_duplicates("actor_id").head(MAX_SESSIONS)
    rest = pool.drop(firsts.index).head(MAX_SESSIONS - len(firsts))
    picked = pd.concat([firsts, rest])
    return pool.loc[sorted(picked.index)]


def _n(count: Any, noun: str) -> str:
    return f"{int(count):,} {noun}{'' if int(count) == 1 else 's'}"


def _walk_words(rho: float) -> str:
    if math.isnan(rho):
        return "too few reads to show a trend"
    if rho >= 0.9:
        return f"ids rise with time (rank correlation {rho:.2f}: a walk up the ids)"
    if rho <= -0.9:
        return f"ids fall with time (rank correlation {rho:.2f}: a walk down the ids)"
    return f"no steady order (rank correlation {rho:.2f})"


def _session_title(row: pd.Series) -> str:
    start, end = row["start"], row["end"]
    same_day = _when(start, "%Y-%m-%d") == _when(end, "%Y-%m-%d")
    span = f"{_when(start)} to {_when(end, '%H:%M' if same_day else '%Y-%m-%d %H:%M')} UTC"
    status = "unauthorised" if row["unauthorised"] else "not shown unauthorised"
    return (
        f"{label(row['label'])}, {status}\n{span}: {_n(row['reads'], 'read')}, {_n(row['ids'], 'id')}, "
        f"{int(row['listed']):,} listed"
    )


def _draw_session(ax: Axes, reads: pd.DataFrame, row: pd.Series) -> None:
    for basis, (_, colour, marker) in READ_STYLES.items():
        part = reads[reads["basis"].isna()] if basis is None else reads[reads["basis"] == basis]
        if part.empty:
            continue
        times = pd.DatetimeIndex(part["ts"]).to_pydatetime()
        ax.scatter(
            times,
            part["y"].to_numpy(dtype=float),
            s=14,
            color=colour,
            marker=marker,
            linewidths=0.9,
            zorder=3,
        )
    # zoom to the session: its time span and its ids, with a small margin
    span = row["end"] - row["start"]
    pad_t = max(span * 0.04, pd.Timedelta(seconds=30))
    ax.set_xlim(row["start"] - pad_t, row["end"] + pad_t)
    pad_y = max((row["y_max"] - row["y_min"]) * 0.05, 1.0)
    ax.set_ylim(row["y_min"] - pad_y, row["y_max"] + pad_y)
    ax.set_title(_session_title(row), loc="left", fontsize=8)
    _date_axis(ax)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _plain(ax.yaxis)
    ax.tick_params(labelsize=7)


def scatter(assessment: Assessment) -> Plot:
    """Record id against time, one panel per attacker session, each zoomed to its own span."""
    frame = assessment.scatter
    if frame.empty:
        return _empty("no record reads by the top actors", "No record reads by the top actors in the window.")
    gap_s = float(assessment.document.get("parameters", {}).get("detect_options", {}).get("session_gap_s")
                  or SESSION_GAP_S)  # fmt: skip
    everything = sessions(frame, gap_s)
    shown = _pick_sessions(everything)
    pool = int(everything["unauthorised"].sum()) or len(everything)
    attackers = bool(everything["unauthorised"].any())
    reads = frame.assign(ts=pd.to_datetime(frame["ts"], utc=True))
    if "basis" not in reads:
        reads["basis"] = None
    reads = reads.sort_values(["actor_id", "ts", "y"], kind="stable")
    reads["session"] = (
        (reads.groupby("actor_id")["ts"].diff() > pd.Timedelta(seconds=gap_s))
        .astype(int)
        .groupby(reads["actor_id"])
        .cumsum()
    )
    who = "attacker session" if attackers else "session of the top actors (none shown unauthorised)"
    pseudonymised = bool(assessment.document.get("pseudonymisation"))
    y_label = "record id rank (ids pseudonymised)" if pseudonymised else "record id (or its rank)"
    title = f"Record id against time, one panel per {who}, each zoomed to its own span (UTC)"
    if len(shown) < pool:
        title += f": {len(shown)} of {pool} sessions drawn"
    alt = [title + "."]
    for _, row in shown.iterrows():
        alt.append(
            f"{label(row['label'])}, {_when(row['start'])} to {_when(row['end'])} UTC: "
            f"{_n(row['reads'], 'read')} of {_n(row['ids'], 'id')} "
            f"{'ranked' if pseudonymised else 'from'} {row['y_min']:.0f} to {row['y_max']:.0f}, "
            f"{int(row['listed']):,} delivering a listed record; {_walk_words(float(row['rho']))}."
        )
    ncols = min(3, len(shown))
    nrows = math.ceil(len(shown) / ncols)

    def draw(fig: Figure) -> None:
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for i, (_, row) in enumerate(shown.iterrows()):
            ax = axes[i // ncols][i % ncols]
            part = reads[(reads["actor_id"] == row["actor_id"]) & (reads["session"] == row["session"])]
            _draw_session(ax, part, row)
            if i % ncols == 0:
                ax.set_ylabel(y_label, fontsize=8)
        for j in range(len(shown), nrows * ncols):
            axes[j // ncols][j % ncols].set_axis_off()
        drawn = {b if isinstance(b, str) else None for b in reads.loc[reads["basis"].notna(), "basis"]}
        drawn |= {None} if reads["basis"].isna().any() else set()
        handles = [Line2D([], [], ls="", marker=m, color=c, label=t)
                   for b, (t, c, m) in READ_STYLES.items() if b in drawn]  # fmt: skip
        fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
        fig.suptitle(title, x=0.01, ha="left", fontsize=10)

    return _draw(0.9 + 2.7 * nrows, draw, " ".join(alt))


def response_sizes(assessment: Assessment) -> Plot:
    """Histogram of response sizes per record-bearing endpoint on a log x-axis, by status class."""
    frame = assessment.response_sizes
    if frame.empty:
        return _empty("no response sizes", "No response sizes logged for the exposed endpoints.")
    frame = frame.dropna(subset=["bytes"])
    if frame.empty:
        return _empty("no response sizes logged", "No response sizes logged for the exposed endpoints.")
    routes, hidden = _ranked_routes(frame, pd.Series(1, index=frame.index))
    top = max(float(frame["bytes"].max()), 10.0)
    bins = np.logspace(0, np.log10(top) + 0.05, 50)
    ncols = min(3, len(routes))
    nrows = math.ceil(len(routes) / ncols)
    alt = [f"Histograms of response sizes (bytes and counts on log scales) for {len(routes) + hidden:,} "
           "exposed endpoints, stacked by response status, the largest response marked."]  # fmt: skip
    for route in routes:
        b = frame.loc[frame["route"] == route, "bytes"].astype(float)
        alt.append(
            f"{route}: {len(b):,} responses, median {b.median():,.0f} bytes, largest {b.max():,.0f} bytes."
        )
    if hidden:
        alt.append(f"{hidden:,} more endpoints are not drawn.")

    def draw(fig: Figure) -> None:
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for i, route in enumerate(routes):
            ax = axes[i // ncols][i % ncols]
            part = frame[frame["route"] == route]
            classes = [c for c in STATUS_CLASSES if c in set(part["status_class"])]
            classes += sorted({str(c) for c in part["status_class"]} - set(STATUS_CLASSES))
            data = [np.clip(part.loc[part["status_class"] == c, "bytes"].to_numpy(dtype=float), 1, None)
                    for c in classes]  # fmt: skip
            ax.hist(data, bins=bins, stacked=True, label=classes,
                    color=[STATUS_COLOURS.get(c, "#595959") for c in classes])  # fmt: skip
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(_bytes_tick))
            ax.xaxis.set_minor_formatter(NullFormatter())
            # a log count axis: one bulk response stays visible beside thousands of single records
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            largest = float(part["bytes"].max())
            ax.axvline(max(largest, 1.0), color=UNAUTH_COLOUR, lw=1, ls=":", zorder=3)
            ax.annotate(f"largest {_size(largest)}", (max(largest, 1.0), 1),
                        xycoords=("data", "axes fraction"), xytext=(-3, -2), textcoords="offset points",
                        ha="right", va="top", fontsize=7, color=UNAUTH_COLOUR)  # fmt: skip
            ax.set_xlabel("response bytes (0 counted as 1)")
            ax.set_ylabel("responses (log scale)")
            ax.set_title(label(route, 50), loc="left", fontsize=9)
            ax.legend(fontsize=8)
        for j in range(len(routes), nrows * ncols):
            axes[j // ncols][j % ncols].set_axis_off()
        _not_drawn(fig, hidden)

    return _draw(0.4 + 2.8 * nrows, draw, " ".join(alt))


# name -> plot function; content.Figure blocks refer to these names
PLOTS: dict[str, Callable[[Assessment], Plot]] = {
    "coverage": coverage,
    "endpoint_daily": endpoint_daily,
    "scatter": scatter,
    "response_sizes": response_sizes,
}


def render(assessment: Assessment) -> dict[str, Rendered]:
    """Every plot as the report embeds it (PNG bytes and alt text), by name."""
    out = {}
    for name, plot in PLOTS.items():
        p = plot(assessment)
        out[name] = Rendered(png(p), p.alt)
    return out


def render_all(assessment: Assessment) -> dict[str, bytes]:
    """Every plot as PNG bytes, by name."""
    return {name: r.png for name, r in render(assessment).items()}
