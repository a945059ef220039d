"""report.pdf read as a printer would: A4 page budget, nothing cut off at the page edge, the
document's identity and page numbers in every footer, tables that repeat their headers, the same
bytes from the same assessment, and nothing fetched but data: URIs.

The demo (sample_logs, as `forensics demo`) must print on at most 12 A4 pages and a simulated case
with about 300 actors on at most 15 (issue 17).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import struct
import zlib
from pathlib import Path

import pypdf
import pytest

from forensics import Case, ingest
from forensics.assess.assessment import Assessment
from forensics.assess.compute import assess
from forensics.publish.machine import findings_json
from forensics.publish.report import render_html
from forensics.publish.report.pdf import _fetcher, layout, pdf_bytes
from forensics.simulate import simulate
from tests.conftest import SAMPLE_LOGS
from tests.pdfcheck import broken_words, overflowing
from tests.test_consistency import _options
from tests.test_report import document, excerpts, frames

A4 = (595.0, 842.0)  # points, ±1


def _assessment(folder: Path, case_path: Path) -> Assessment:
    truth = json.loads((folder / "truth.json").read_text())
    with Case.create(case_path) as case:
        ingest(case, [folder / "evidence"])
        return assess(case, _options(truth, login=True))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Assessment:
    return _assessment(SAMPLE_LOGS, tmp_path_factory.mktemp("demo") / "case.duckdb")


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Assessment:
    """A simulated case with about 300 actors (every network topology scenario, 120 days)."""
    work = tmp_path_factory.mktemp("crowd")
    simulate(work / "sim", seed=5, days=120, scale=1.0, scenarios=("all",))
    return _assessment(work / "sim", work / "case.duckdb")


def _pages(pdf: bytes) -> list[str]:
    return [p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def check_printed(assessment: Assessment, max_pages: int) -> list[str]:
    page = render_html(assessment)
    laid = layout(page)
    assert 1 < len(laid.pages) <= max_pages, len(laid.pages)
    assert overflowing(laid) == []  # no column, line or image cut off at the page edge
    assert broken_words(laid) == []  # no short word split across lines in a table cell
    pdf = pdf_bytes(page)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    for p in reader.pages:
        assert abs(float(p.mediabox.width) - A4[0]) < 1 and abs(float(p.mediabox.height) - A4[1]) < 1
    texts = _pages(pdf)
    digest = hashlib.sha256(findings_json(assessment).encode()).hexdigest()
    case = Path(assessment.document["case"]["path"]).name
    for number, text in enumerate(texts, start=1):
        flat = re.sub(r"\s+", "", text)
        assert f"Page{number}of{len(texts)}" in flat, number
        assert digest in flat and f"Case{case}" in flat, number  # every footer names the document
    return texts


def test_demo_pdf_fits_twelve_a4_pages_and_nothing_is_cut(demo: Assessment) -> None:
    texts = check_printed(demo, 12)
    first = texts[0]
    records = demo.document["records"]
    assert "Unauthorised access confirmed" in first  # page 1 is the answer
    assert f"{records['confirmed']:,}" in first and "CONFIRMED" in first and "AT RISK" in first
    assert "What to do next" in first and "Who:" in first
    assert "Document control" not in first


def test_300_actor_pdf_fits_fifteen_pages(crowd: Assessment) -> None:
    assert crowd.document["listed"]["actors_total"] >= 250
    check_printed(crowd, 15)


def test_pdf_is_the_same_bytes_without_dates(demo: Assessment) -> None:
    page = render_html(demo)
    first, second = pdf_bytes(page), pdf_bytes(page)
    assert first == second
    meta = pypdf.PdfReader(io.BytesIO(first)).metadata or {}
    assert "/CreationDate" not in meta and "/ModDate" not in meta


def test_long_tables_repeat_their_header_on_every_page() -> None:
    doc = document()
    actor = doc["actors"][0]
    doc["actors"] = [{**copy.deepcopy(actor), "id": 1000 + i, "unauthorised": True} for i in range(120)]
    doc["actor_counts"]["unauthorised"] = 120
    pdf = pdf_bytes(render_html(Assessment(doc, excerpts=excerpts(), **frames())))
    texts = _pages(pdf)
    flat = [re.sub(r"\s+", "", t) for t in texts]
    first = next(i for i, t in enumerate(flat) if "7Actors" in t)
    last = next(i for i, t in enumerate(flat) if "8Accesstotheexposedendpoints" in t)
    holding = texts[first + 1 : last + 1]  # the pages the actors table continues on
    assert len(holding) >= 2 and all("1119" not in t for t in texts[:first])
    for text in holding:
        assert "UnauthorisedAddressesUseragents" in re.sub(r"\s+", "", text)  # the header row again


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def test_nothing_is_fetched_but_data_uris(tmp_path: Path) -> None:
    fetcher = _fetcher()
    for url in ("file:///etc/hostname", "http://127.0.0.1:9/x.png", "https://example.invalid/a.css"):
        with pytest.raises(ValueError, match="data: URLs"):
            fetcher.fetch(url)
    local = tmp_path / "dot.png"
    local.write_bytes(_png())
    import base64

    inline = "data:image/png;base64," + base64.b64encode(_png()).decode()
    for src, images in ((local.as_uri(), 0), (inline, 1)):
        html = f'<html><body><p>x</p><img src="{src}" style="width:20px"></body></html>'
        reader = pypdf.PdfReader(io.BytesIO(pdf_bytes(html)))
        assert sum(len(p.images) for p in reader.pages) == images, src
