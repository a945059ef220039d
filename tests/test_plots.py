"""The plots show what their captions claim: a walk is a diagonal in its own session's panel,
every record-bearing endpoint is drawn, "no logs" cannot be taken for a source, every image has
alt text, and plot functions return matplotlib Figures (PNG bytes only for the report writer)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.text import Text

from forensics.assess.assessment import Assessment
from forensics.publish.report import plots, render_html

WINDOW = {"start": "2024-03-01T00:00:00Z", "end": "2024-04-01T00:00:00Z", "source": "given", "evidence": "x"}
GAP = {"start": "2024-03-10T06:00:00Z", "end": "2024-03-12T22:48:00Z"}  # 2.7 days without logs


def doc(**extra: object) -> dict[str, object]:
    d: dict[str, object] = {
        "window": WINDOW,
        "coverage": {"gaps": [GAP]},
        "parameters": {"detect_options": {"session_gap_s": 1800.0}},
        "pseudonymisation": None,
    }
    d.update(extra)
    return d


def walk_frame() -> pd.DataFrame:
    """Actor 5 walks ids 5000..5059 one a minute on 14 March, comes back on 20 March for ids
    9000..9019 (another session); actor 8, not unauthorised, reads at random all month."""
    t0 = pd.Timestamp("2024-03-14T01:00:00Z")
    t1 = pd.Timestamp("2024-03-20T03:00:00Z")
    rng = np.random.default_rng(3)
    walk = pd.DataFrame(
        {"ts": [t0 + pd.Timedelta(minutes=i) for i in range(60)], "y": np.arange(5000.0, 5060.0)}
    )
    back = pd.DataFrame(
        {"ts": [t1 + pd.Timedelta(minutes=2 * i) for i in range(20)], "y": np.arange(9000.0, 9020.0)}
    )
    attacker = pd.concat([walk, back], ignore_index=True).assign(
        actor_id=5, label="actor 5 (203.0.113.9)", unauthorised=True, basis="confirmed"
    )
    other = pd.DataFrame(
        {
            "ts": [pd.Timestamp("2024-03-02T00:00:00Z") + pd.Timedelta(hours=7 * i) for i in range(90)],
            "y": rng.integers(1, 20000, 90).astype(float),
        }
    ).assign(actor_id=8, label="actor 8 (10.0.0.8)", unauthorised=False, basis=None)
    frame = pd.concat([attacker, other], ignore_index=True)
    frame["record_id"] = frame["y"].astype(int).astype(str)
    return frame


def session_axes(fig: Figure) -> list[object]:
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison]


def test_plot_functions_return_figures_and_alt_text() -> None:
    a = Assessment(doc(), scatter=walk_frame())
    for name, fn in plots.PLOTS.items():
        plot = fn(a)
        assert isinstance(plot.figure, Figure), name
        assert len(plot.alt) > 20 and "\n" not in plot.alt, name
        assert plots.png(plot)[:8] == b"\x89PNG\r\n\x1a\n"
        assert plot._repr_png_() == plots.png(plot)  # a notebook shows the image


def test_walk_panel_covers_its_session_only() -> None:
    plot = plots.scatter(Assessment(doc(), scatter=walk_frame()))
    axes = session_axes(plot.figure)
    assert len(axes) == 2  # the attacker's two sessions; the actor not shown unauthorised is left out
    first = axes[0]
    x0, x1 = (mdates.num2date(v) for v in first.get_xlim())
    y0, y1 = first.get_ylim()
    start, end = pd.Timestamp("2024-03-14T01:00:00Z"), pd.Timestamp("2024-03-14T01:59:00Z")
    # the walk spans 59 minutes: the panel shows that hour (a margin of minutes), not the month
    assert x0 <= start and x1 >= end
    assert (x1 - x0) < pd.Timedelta(hours=1, minutes=10)
    assert 4990 <= y0 <= 5000 and 5059 <= y1 <= 5070
    # drawn as a diagonal: the points' pixel positions rise steadily left to right
    pts = first.collections[0].get_offsets()
    assert np.corrcoef(pts[:, 0], pts[:, 1])[0, 1] > 0.99
    second = axes[1]
    assert mdates.num2date(second.get_xlim()[0]) >= pd.Timestamp("2024-03-20T02:00:00Z")
    assert second.get_ylim()[0] >= 8980 and second.get_ylim()[1] <= 9030
    assert "a walk up the ids" in plot.alt and "actor 5 (203.0.113.9)" in plot.alt


def test_sessions_split_on_the_case_gap() -> None:
    s = plots.sessions(walk_frame(), gap_s=1800)
    mine = s[s["actor_id"] == 5]
    assert list(mine["reads"]) == [60, 20] and list(mine["ids"]) == [60, 20]
    assert mine["rho"].min() > 0.99
    assert bool(s.iloc[0]["unauthorised"]) and not bool(s.iloc[-1]["unauthorised"])
    # a gap longer than the case's setting: one session per read of actor 8 (7 hours apart)
    assert len(s[s["actor_id"] == 8]) == 90


def test_without_attackers_the_top_actors_are_drawn() -> None:
    frame = walk_frame().assign(unauthorised=False)
    plot = plots.scatter(Assessment(doc(), scatter=frame))
    assert "none shown unauthorised" in plot.alt
    assert len(session_axes(plot.figure)) == plots.MAX_SESSIONS


def endpoint_frames(routes: list[str]) -> dict[str, pd.DataFrame]:
    days = pd.date_range("2024-03-01", "2024-03-31", freq="D", tz="UTC")
    rows, sizes = [], []
    for i, route in enumerate(routes):
        for d in days[:: i + 1]:
            rows.append(
                {
                    "route": route,
                    "day": d,
                    "status_class": "2xx",
                    "auth_state": "unknown",
                    "requests": 100 // (i + 1),
                }
            )
        sizes += [{"route": route, "status_class": "2xx", "bytes": 2000 * (i + 1)}] * (50 // (i + 1))
    return {"endpoint_daily": pd.DataFrame(rows), "response_sizes": pd.DataFrame(sizes)}


def drawn_titles(plot: plots.Plot) -> list[str]:
    plots.png(plot)
    return [ax.get_title(loc="left") for ax in plot.figure.axes]


def test_every_record_bearing_endpoint_is_drawn() -> None:
    routes = [
        "GET /api/v2/referrals/{id}",
        "GET /api/v2/referrals/{id}/documents/{doc}",
        "GET /api/v2/referrals",  # the list endpoint of the bulk download: fewest requests
        "GET /api/v2/export",
        "POST /api/v2/search",
    ]
    a = Assessment(doc(), **endpoint_frames(routes))
    for fn in (plots.endpoint_daily, plots.response_sizes):
        plot = fn(a)
        titles = drawn_titles(plot)
        for route in routes:
            assert route in titles, (fn.__name__, route)
            assert route in plot.alt


def test_endpoints_beyond_the_limit_are_named_not_drawn() -> None:
    routes = [f"GET /api/r{i}/{{id}}" for i in range(plots.MAX_ROUTES + 2)]
    plot = plots.endpoint_daily(Assessment(doc(), **endpoint_frames(routes)))
    texts = [t.get_text() for t in plot.figure.findobj(Text)]
    assert any(t.startswith("2 more endpoints not drawn") for t in texts)
    assert "2 more endpoints are not drawn" in plot.alt


# sRGB -> CIE L*a*b* (D65), and deuteranopia/protanopia simulated (Viénot, Brettel & Mollon 1999)
def _linear(rgb: tuple[float, ...]) -> np.ndarray:
    c = np.array(rgb, dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(lin: np.ndarray) -> np.ndarray:
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


SIMULATE = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.11238, 0.88762, 0.0], [0.11238, 0.88762, 0.0], [0.00401, -0.00401, 1.0]]),
    "deuteranopia": np.array([[0.29275, 0.70725, 0.0], [0.29275, 0.70725, 0.0], [-0.02234, 0.02234, 1.0]]),
}


def delta_e(a: str, b: str, vision: str) -> float:
    sim = SIMULATE[vision]
    return float(np.linalg.norm(_lab(sim @ _linear(to_rgb(a))) - _lab(sim @ _linear(to_rgb(b)))))


def over(colour: str, alpha: float, background: str) -> str:
    mixed = alpha * np.array(to_rgb(colour)) + (1 - alpha) * np.array(to_rgb(background))
    return "#" + "".join(f"{round(v * 255):02x}" for v in mixed)


NOT_A_SOURCE = 37.0  # CIE76 ΔE: 2.3 is just noticeable; the earlier palette's pair measured 30.6 to 35.5


@pytest.mark.parametrize("vision", sorted(SIMULATE))
def test_no_logs_cannot_be_taken_for_a_source(vision: str) -> None:
    sources = [*plots.SOURCE_COLOURS, plots.OTHER_SOURCES_COLOUR]
    for colour in sources:
        assert delta_e(plots.GAP_FACE, colour, vision) > NOT_A_SOURCE, (colour, vision)
        assert delta_e(plots.GAP_HATCH, colour, vision) > 30, (colour, vision)
        assert delta_e(plots.WINDOW_COLOUR, colour, vision) > 15, (colour, vision)
    # the earlier palette, as drawn (alpha over the window band): "no logs" pink beside the
    # seventh source's pink fails the same measure in every vision
    band = over("#d0ebff", 0.6, "#ffffff")
    assert delta_e(over("#ffa8a8", 0.8, band), over("#e377c2", 0.85, band), vision) < NOT_A_SOURCE


def test_sources_differ_from_one_another() -> None:
    sources = [*plots.SOURCE_COLOURS, plots.OTHER_SOURCES_COLOUR]
    pairs = [(a, b) for i, a in enumerate(sources) for b in sources[i + 1 :]]
    assert min(delta_e(a, b, "normal") for a, b in pairs) > 20
    assert min(delta_e(a, b, "deuteranopia") for a, b in pairs) > 15


def test_the_coverage_plot_draws_the_gap_as_hatching() -> None:
    days = pd.date_range("2024-03-01", "2024-03-31", freq="D", tz="UTC")
    days = days[(days < "2024-03-10") | (days > "2024-03-12")]
    vol = pd.DataFrame({"source": "/ev/nginx/access.log", "day": days, "events": 500})
    plot = plots.coverage(Assessment(doc(), daily_volume=vol))
    ax = plot.figure.axes[0]
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 1
    gap = hatched[0]  # a Polygon before matplotlib 3.9, a Rectangle since: both give their path
    x = gap.get_path().transformed(gap.get_patch_transform()).get_extents().x0
    assert mdates.num2date(x) == pd.Timestamp(GAP["start"])
    assert "the longest 2.7 days" in plot.alt
    labels = [t.get_text() for t in plot.figure.legends[0].get_texts()]
    assert "no logs" in labels and "nginx/access.log" in labels


class Imgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.alts.append(dict(attrs).get("alt") or "")


def test_report_images_carry_the_plots_alt_text() -> None:
    from tests.test_report import document, excerpts, frames

    a = Assessment(document(), excerpts=excerpts(), **frames())
    page = render_html(a)
    p = Imgs()
    p.feed(page)
    want = [plots.PLOTS[n](a).alt for n in ("coverage", "endpoint_daily", "scatter", "response_sizes")]
    assert sorted(p.alts) == sorted(want)
    # a label with markup and quotes stays text inside the attribute
    assert any("<script>" in alt for alt in p.alts)
    assert not re.search(r'alt="[^"]*<script', page)
