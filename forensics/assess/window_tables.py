"""The assessment's window tables, rebuilt on any connection from an ``Assessment`` alone.

``assess`` computes its numbers from temp tables (compute.py): ``_w`` the window, ``_wf`` the
findings overlapping it, ``_wa`` per actor over them, ``_confirmed``/``_probable`` the requests
that delivered a listed record and ``_delivered`` both with their basis. Temp tables live only on
the connection that made them, and a later ``assess`` with another window replaces them: a writer
that read them would fail on a fresh connection, or write another assessment's rows. The timeline
(publish/machine.py) calls ``rebuild`` instead: the same SQL (``compute.NUMBER_SQL``) over the
case's persistent tables (``findings``, ``detect_requests``) and the window the assessment's
document records, so it gives the rows ``assess`` used as long as the case was not re-derived
since. On the connection that made them for the assessment, not replaced since, the tables are
reused as they are (``rebuild`` checks the token ``_w.made``).

The affected records (affected_records.csv's rows) are as many as the records taken — millions in
a large breach — so they are never part of the ``Assessment``: ``affected_batches`` reads them
from ``_delivered`` a batch at a time (the writer), ``affected_records`` gathers them into one
DataFrame for a notebook.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import duckdb
import pandas as pd

from forensics.assess.assessment import Assessment
from forensics.assess.compute import AFFECTED_ORDER, AFFECTED_SQL, make_window_tables
from forensics.errors import ForensicsError
from forensics.store.case import Case

AFFECTED_COLUMNS = ("record_id", "basis", "first_seen", "last_seen", "actors", "requests", "bytes")
AFFECTED_BATCH_VECTORS = 32  # DuckDB vectors (2,048 rows) a batch: 65,536 rows
# Pseudonymised: each record id is its pseudonym (pseudonymise.prepare's ``_pseudonyms``), in the
# pseudonyms' order; an id without one stops the write rather than appear as logged.
PSEUDONYMISED_AFFECTED = f"""
    SELECT coalesce(pz.pseudonym, error('record id without a pseudonym: prepare() the pseudonyms first'))
        AS record_id, a.* EXCLUDE (record_id)
    FROM ({AFFECTED_SQL}) a LEFT JOIN _pseudonyms pz ON pz.kind = 'rec' AND pz.value = a.record_id
    ORDER BY basis, record_id"""


def window_of(assessment: Assessment) -> tuple[datetime, datetime]:
    """The window (UTC start, end) the assessment's document records."""
    window = assessment.document["window"]
    return datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])


def rebuild(case: Case, assessment: Assessment) -> None:
    """(Re)create the window tables ``assess`` made for ``assessment``, on ``case``'s connection —
    unless that connection holds them as made for it and not replaced since (``_w.made`` is the
    assessment's token): each writer of a report asked for them again, and at 10M events making
    them took 3 s."""
    if assessment.window_tables is not None and _made(case) == assessment.window_tables:
        return
    assessment.window_tables = make_window_tables(case, *window_of(assessment))


def _made(case: Case) -> str | None:
    """The token of the window tables on ``case``'s connection (None: none there)."""
    try:
        row = case.con.execute("SELECT made FROM _w").fetchone()
    except (duckdb.Error, ForensicsError):  # none on this connection (DuckDB's or Spark's error)
        return None
    return str(row[0]) if row else None


def affected_sql(pseudonymised: bool = False) -> str:
    """SQL: affected_records.csv's rows (``AFFECTED_COLUMNS``) in file order, over the window
    tables. ``pseudonymised``: record ids replaced by their pseudonyms (needs
    pseudonymise.prepare's tables on the same connection)."""
    return PSEUDONYMISED_AFFECTED if pseudonymised else f"{AFFECTED_SQL} ORDER BY {AFFECTED_ORDER}"


def affected_batches(
    case: Case, assessment: Assessment, *, pseudonymised: bool = False, select: str = "*"
) -> Iterator[pd.DataFrame]:
    """affected_records.csv's rows (``AFFECTED_COLUMNS``) in file order, a bounded batch at a time
    (``select``: other columns over them, e.g. the cells as text). Nothing else may run on
    ``case``'s connection until the iteration ends (the result is read as it goes)."""
    rebuild(case, assessment)
    result = case.con.execute(f"SELECT {select} FROM ({affected_sql(pseudonymised)})")
    while True:
        batch = result.fetch_df_chunk(AFFECTED_BATCH_VECTORS)
        if batch.empty:
            return
        yield batch


def affected_records(case: Case, assessment: Assessment) -> pd.DataFrame:
    """Every row of affected_records.csv in one DataFrame (record_id, basis, first_seen,
    last_seen, actors, requests, bytes) — for a look in a notebook; as large as the breach."""
    batches = list(affected_batches(case, assessment))
    if not batches:
        return pd.DataFrame({c: [] for c in AFFECTED_COLUMNS})
    return pd.concat(batches, ignore_index=True)
