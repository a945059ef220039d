"""Exceptions raised by the library. Messages say what went wrong and what to do next.

An error about a name the library does not know (a format, a detector or threshold, a source to
forget, a time zone) carries the closest known names as data too: ``exc.candidates`` maps each
unknown name to them, best first, so a notebook need not parse the message. ``closest`` is the
one did-you-mean every such message is built from.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

DEFAULT_CUTOFF = 0.6  # difflib's own: how alike (0..1) a candidate must be


def closest(word: str, choices: Iterable[str], n: int = 3, cutoff: float = DEFAULT_CUTOFF) -> list[str]:
    """The (at most ``n``) names of ``choices`` closest to ``word``, best first; may be empty."""
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=cutoff)


class ForensicsError(Exception):
    """Base class: the CLI turns any of these into a one-line error with exit code 1.

    ``candidates``: unknown name -> the closest known names (empty when the error is not about one).
    """

    def __init__(self, *args: object, candidates: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(*args)
        self.candidates: dict[str, list[str]] = {k: list(v) for k, v in (candidates or {}).items()}


class CaseError(ForensicsError):
    """The case file cannot be opened or is not a forensics case."""


class EvidenceError(ForensicsError):
    """An evidence path does not exist or cannot be read."""


class UnknownFormatError(ForensicsError):
    """A format name that is not in the registry."""


class UnrecognisedFormatError(ForensicsError):
    """No registered format recognises a file."""


class LogFormatError(ForensicsError):
    """A user-supplied nginx `log_format` / Apache `LogFormat` string cannot be compiled."""


class TimezoneRequiredError(ForensicsError):
    """A log writes local times without an offset and no --tz was given."""


class FieldMappingError(ForensicsError):
    """A `--field name=path` override is malformed or names an unknown field."""


class EndpointError(ForensicsError):
    """A declared endpoint template (``--endpoint``) that cannot be read."""


class LoginEndpointError(ForensicsError):
    """A declared login endpoint (``--login``) that no successful (2xx/3xx) request in the case matches:
    taken as evidence it would make every caller look unauthenticated."""


class OwnershipError(ForensicsError):
    """An ownership map (``--ownership``) that cannot be used: unreadable, a wrong header, or record
    ids matching no record read in the case."""


class EmptyCaseError(ForensicsError):
    """The case holds no events: there is nothing to investigate."""


class TrustedNetworkError(ForensicsError):
    """A ``--trusted`` value that is not CIDR or NAME=CIDR."""


class DetectorError(ForensicsError):
    """An unknown detector or threshold name, or a threshold value that is not a number."""


class WindowError(ForensicsError):
    """An exposure window (``--window START/END``) that cannot be read, is empty/reversed, or that
    no evidence in the case overlaps."""


class CoverageError(ForensicsError):
    """Coverage cannot be computed (e.g. the case has no events table)."""


class SimulationError(ForensicsError):
    """Simulation parameters that cannot make a case (e.g. too few days)."""


class PseudonymError(ForensicsError):
    """A pseudonym key or mapping file that cannot be read, written or placed where asked."""


class NetworkDbError(ForensicsError):
    """A network (IP to AS) database file that is missing, of an unknown format or unreadable."""


class SigmaError(ForensicsError):
    """Sigma rules that cannot be read: a path that is no file or folder, no rule files in it."""


class SigmaUnavailableError(SigmaError):
    """pySigma (the optional extra ``sigma``) is not installed."""


class ExportError(ForensicsError):
    """An export that cannot be made (a folder that is not empty, a damaged case), or whose files do
    not hold the case's rows (``forensics export``); nothing is left at the folder asked for."""


class SparkUnavailableError(ForensicsError):
    """``--engine spark`` without PySpark (the ``[spark]`` extra) or without a Java 17+ runtime."""


class SparkFailedError(ForensicsError):
    """Spark stopped a statement with an error (out of memory, a failed task, a lost executor):
    nothing was judged, and the case's evidence was only read."""
