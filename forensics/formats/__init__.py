"""The format registry: every format is one module ending in ``FORMAT = …``, listed here.

A new format = a module + its entry in ``REGISTRY`` + a test (tests/test_registry.py checks
that every module in this package is registered).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from forensics.errors import UnknownFormatError, closest
from forensics.formats import (
    alb,
    apigw_http_clf,
    apigw_json,
    apigw_rest_clf,
    azure_appgw,
    azure_frontdoor,
    caddy,
    cloudfront,
    combined,
    combined_extra,
    common,
    elb,
    envoy,
    envoy_istio,
    envoy_json,
    gcp_lb,
    haproxy,
    jsonl,
    nginx_main,
    nlb,
    s3,
    traefik_clf,
    traefik_json,
    vhost_combined,
    w3c,
)
from forensics.formats.awslog import AwsFormat
from forensics.formats.base import LogFormat, ParseOptions, Parser
from forensics.formats.linefmt import LineFormat

REGISTRY: dict[str, LogFormat] = {
    f.name: f
    for f in (
        common.FORMAT,
        combined.FORMAT,
        combined_extra.FORMAT,
        nginx_main.FORMAT,
        vhost_combined.FORMAT,
        jsonl.FORMAT,
        apigw_json.FORMAT,
        gcp_lb.FORMAT,
        azure_appgw.FORMAT,
        azure_frontdoor.FORMAT,
        caddy.FORMAT,
        traefik_json.FORMAT,
        envoy_json.FORMAT,
        haproxy.FORMAT,
        traefik_clf.FORMAT,
        envoy.FORMAT,
        envoy_istio.FORMAT,
        w3c.FORMAT,
        cloudfront.FORMAT,
        alb.FORMAT,
        elb.FORMAT,
        nlb.FORMAT,
        s3.FORMAT,
        apigw_rest_clf.FORMAT,
        apigw_http_clf.FORMAT,
    )
}

# Below this share of sample lines parsed, a format is not considered to recognise a file.
MIN_SCORE = 0.5
# Sniffing looks at this many non-empty lines from the top of a file (cost is per line).
SNIFF_LINES = 100

__all__ = [
    "MIN_SCORE",
    "REGISTRY",
    "LogFormat",
    "ParseOptions",
    "Parser",
    "Sniffed",
    "custom_format",
    "get_format",
    "sniff",
]


def get_format(name: str) -> LogFormat:
    """A registered format by name; unknown names get a 'did you mean' suggestion."""
    if name in REGISTRY:
        return REGISTRY[name]
    close = closest(name, REGISTRY, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownFormatError(
        f"unknown format {name!r}.{hint} Known formats: {', '.join(REGISTRY)} "
        "(or give your server's layout with --log-format)",
        candidates={name: close},
    )


def custom_format(layout_text: str) -> LogFormat:
    """A format from a pasted nginx ``log_format`` or Apache ``LogFormat`` line, a W3C
    ``#Fields: …`` line, or ``cloudfront-realtime: field …`` (a real-time log's field list)."""
    text = layout_text.strip()
    if text.lower().startswith("#fields:"):
        return w3c.declared(text)
    if text.lower().startswith(cloudfront.REALTIME_PREFIX):
        return cloudfront.realtime(text)
    return LineFormat(
        name="custom",
        description="user-supplied layout",
        example="",
        layout_text=layout_text,
        priority=100,
    )


@dataclass(frozen=True)
class Sniffed:
    """The best format for a sample, the formats that parse the lines it does not, and scores.

    ``score`` is the share of non-empty sample lines parsed by the best format together with
    its alternates (a file may mix layouts, e.g. common and combined lines after a config
    change); it must reach MIN_SCORE for the file to count as recognised.
    """

    best: LogFormat | None
    score: float
    alternates: list[LogFormat]
    ranked: list[tuple[LogFormat, float]]


PER_LINE = (LineFormat, AwsFormat)  # formats whose strict match of a line ignores the other lines


def _whole_sample_matches(
    con: duckdb.DuckDBPyConnection, sample: list[str], fmts: list[LogFormat]
) -> list[LogFormat]:
    """Formats whose strict form takes every sample line, best first; found cheaply.

    When one exists, the full scoring would rank it first (score 1.0, then priority, then
    name), run no tolerant pass (no line is left over) and find no alternates (nothing is left
    to cover), so its answer is this one. A format that judges each line on its own
    (PER_LINE) and misses the first line cannot score 1.0, which rules out most formats with
    one line: sniffing thousands of small files was dominated by scoring ~25 formats on 200
    lines each (10 ms a file). Formats that read headers (W3C, CloudFront) or choose a mapping
    from the whole sample are always checked on the whole sample.
    """
    if not sample:
        return []
    maybe = [
        f for f in fmts if not isinstance(f, PER_LINE) or f.matches(con, sample[:1], strict_only=True)[0]
    ]
    whole = [f for f in maybe if all(f.matches(con, sample, strict_only=True))]
    return sorted(whole, key=lambda f: (-f.priority, f.name))


def sniff(
    con: duckdb.DuckDBPyConnection, lines: list[str], candidates: list[LogFormat] | None = None
) -> Sniffed:
    """Score every candidate on the sample: highest share parsed, then priority, first."""
    sample = [ln for ln in lines if ln.strip()][:SNIFF_LINES]
    fmts = {f.name: f for f in (candidates or list(REGISTRY.values()))}
    whole = _whole_sample_matches(con, sample, list(fmts.values()))
    if whole:  # the common case, and the same answer the full scoring would give
        return Sniffed(whole[0], 1.0, [], [(f, 1.0) for f in whole])
    return _scored(con, sample, fmts)


def _scored(con: duckdb.DuckDBPyConnection, sample: list[str], fmts: dict[str, LogFormat]) -> Sniffed:
    """Every format's share of the sample, strict then tolerant; the best and its alternates."""
    # Strict forms first; the tolerant forms (slow to fail in Python's re) only get the lines
    # that no format's strict form took — none at all in a clean file.
    hits = {n: f.matches(con, sample, strict_only=True) for n, f in fmts.items()}
    left = [i for i in range(len(sample)) if not any(h[i] for h in hits.values())]
    if left:
        for n, f in fmts.items():
            for i, hit in zip(left, f.matches(con, [sample[i] for i in left]), strict=True):
                hits[n][i] = hits[n][i] or hit
    ranked = sorted(
        ((fmts[n], sum(h) / len(h) if h else 0.0) for n, h in hits.items()),
        key=lambda fs: (-fs[1], -fs[0].priority, fs[0].name),
    )
    ranked = [(f, s) for f, s in ranked if s > 0]
    if not ranked:
        return Sniffed(None, 0.0, [], [])
    best = ranked[0][0]
    covered = list(hits[best.name])
    alternates = []
    for f, _ in ranked[1:]:
        gain = [h and not c for h, c in zip(hits[f.name], covered, strict=True)]
        if any(gain):
            alternates.append(f)
            covered = [c or g for c, g in zip(covered, gain, strict=True)]
    score = sum(covered) / len(covered)
    if score < MIN_SCORE:
        return Sniffed(None, score, [], ranked)
    return Sniffed(best, score, alternates, ranked)
