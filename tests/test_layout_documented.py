"""The layout compiler held to Apache's and nginx's own documentation.

Golden cases live in tests/golden/layouts_documented.json: each names the documentation row
it comes from (Apache mod_log_config "Custom Log Formats", nginx "Embedded Variables"), a
layout, a synthetic line it writes, and every non-NULL event column expected.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from forensics import formats
from forensics.errors import LogFormatError
from forensics.formats import layout_apache
from forensics.formats.layout import compile_layout
from forensics.store.db import connect
from tests.formathelpers import GOLDEN, event_values, parse_one
from tests.test_layout import expected_values, layout_text

GOLD = json.loads((GOLDEN / "layouts_documented.json").read_text(encoding="utf-8"))


def test_every_case_cites_the_documentation() -> None:
    for case in GOLD["cases"] + GOLD["errors"]:
        assert case["doc"].startswith(("Apache ", "nginx ")), case["name"]


@pytest.mark.parametrize("case", GOLD["cases"], ids=[c["name"] for c in GOLD["cases"]])
def test_documented_layout(case: dict[str, Any]) -> None:
    row = parse_one(layout_text(case), case["line"], tz=case.get("tz"))
    assert row["ts"].tzinfo is not None
    assert event_values(row) == expected_values(case["expected"])


@pytest.mark.parametrize("case", GOLD["cases"], ids=[c["name"] for c in GOLD["cases"]])
def test_documented_layout_recognises_its_line(case: dict[str, Any]) -> None:
    fmt = formats.custom_format(layout_text(case))
    con = connect(":memory:")
    assert fmt.matches(con, [case["line"], "garbage"]) == [True, False]


@pytest.mark.parametrize("case", GOLD["errors"], ids=[c["name"] for c in GOLD["errors"]])
def test_documented_layout_errors(case: dict[str, Any]) -> None:
    with pytest.raises(LogFormatError) as err:
        formats.custom_format(layout_text(case))
    for part in case["message"]:
        assert part in str(err.value)


# Every row of the mod_log_config table (and what mod_logio / mod_ssl register there), as
# written in a layout: it compiles, to the column the table says.
DOCUMENTED = {
    "%a": "client_ip",
    "%{c}a": "client_ip",
    "%A": "extra",
    "%B": "bytes_sent",
    "%b": "bytes_sent",
    "%{Foobar}C": "extra",
    "%D": "duration_ms",
    "%{Foobar}e": "extra",
    "%f": "extra",
    "%h": "client_ip",
    "%{c}h": "client_ip",
    "%H": "protocol",
    "%{Foobar}i": "extra",
    "%k": "extra",
    "%l": "extra",
    "%L": "extra",
    "%{c}L": "extra",
    "%m": "method",
    "%{Foobar}n": "extra",
    "%{Foobar}o": "extra",
    "%p": "extra",
    "%{canonical}p": "extra",
    "%{local}p": "extra",
    "%{remote}p": "extra",
    "%P": "extra",
    "%{pid}P": "extra",
    "%{tid}P": "extra",
    "%{hextid}P": "extra",
    "%q": "query",
    "%r": "_request",
    "%R": "extra",
    "%s": "status",
    "%>s": "status",
    "%T": "duration_ms",
    "%{ms}T": "duration_ms",
    "%{us}T": "duration_ms",
    "%{s}T": "duration_ms",
    "%u": "principal",
    "%U": "_target",
    "%v": "host",
    "%V": "host",
    "%X": "extra",
    "%I": "bytes_received",
    "%O": "bytes_sent",
    "%S": "extra",
    "%{Foobar}^ti": "extra",
    "%{Foobar}^to": "extra",
    "%^FU": "extra",
    "%^FB": "extra",
    "%{Foobar}x": "extra",
    "%{Foobar}c": "extra",
}


@pytest.mark.parametrize("directive", sorted(DOCUMENTED))
def test_every_documented_directive_compiles_to_its_column(directive: str) -> None:
    layout = compile_layout(f"%t {directive}")
    (field,) = [f for f in layout.fields if f.spec.column != "ts"]
    assert field.spec.column == DOCUMENTED[directive]


def test_the_directive_table_holds_only_documented_rows() -> None:
    documented = {d.removeprefix("%").removeprefix(">") for d in DOCUMENTED} | {"t"}
    # {VARNAME} arguments the table maps to event columns
    named = {"{referer}i", "{user-agent}i", "{x-forwarded-for}i", "{host}i", "{x-request-id}i"}
    for key, row in layout_apache.APACHE.items():
        assert key.replace("{*}", "{Foobar}") in documented or key in named | {"{unique_id}e"}, key
        assert row.row.startswith("%"), key
