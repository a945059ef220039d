"""The assessment's window tables, rebuilt on any connection from an ``Assessment`` alone.

``assess`` computes its numbers from temp tables (compute.py): ``_w`` the window, ``_wf`` the
findings overlapping it, ``_wa`` per actor over them, ``_confirmed``/``_probable`` the requests
that delivered a listed record and ``_delivered`` both with their basis. Temp tables live only on
the connection that made them, and a later ``assess`` with another window replaces them: a writer
that read them would fail on a fresh connection, or write another assessment's rows. The timeline
(publish/machine.py) calls ``rebuild`` instead: the same SQL (``compute.NUMBER_SQL``) over the
case's persistent tables (``findings``, ``detect_requests``) and the window the assessment's
document records, so it gives the rows ``assess`` used as long as the case was not re-derived
since.
"""

from __future__ import annotations

from datetime import datetime

from forensics.assess.assessment import Assessment
from forensics.assess.compute import make_window_tables
from forensics.store.case import Case


def window_of(assessment: Assessment) -> tuple[datetime, datetime]:
    """The window (UTC start, end) the assessment's document records."""
    window = assessment.document["window"]
    return datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])


def rebuild(case: Case, assessment: Assessment) -> None:
    """(Re)create the window tables ``assess`` made for ``assessment``, on ``case``'s connection."""
    make_window_tables(case, *window_of(assessment))
