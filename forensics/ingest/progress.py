"""Ingest progress in a notebook: ``ingest(case, paths, progress=progress_bar())``.

tqdm's notebook-aware bar (``tqdm.auto``): a widget in Jupyter when ipywidgets is installed, and
otherwise tqdm's text bar, which Jupyter draws in place too; in a terminal, the text bar on
stderr. tqdm comes with the ``[notebook]`` extra. The bar counts evidence bytes read (the
ingest's own measure) and shows lines and the current file; it closes when the ingest ends.
Library code does not print: the bar exists only when the caller asks for one.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

from forensics.ingest.run import Progress
from forensics.store.printable import printable


class ProgressBar:
    """A callable for ``ingest(..., progress=...)`` drawing one tqdm bar."""

    def __init__(self, description: str = "ingest", *, bar: Any = None) -> None:
        self.description = description
        self._factory = bar if bar is not None else _tqdm()
        self._bar: Any = None

    def __call__(self, p: Progress) -> None:
        if self._bar is None:
            self._bar = self._factory(
                total=max(p.bytes_total, 1), unit="B", unit_scale=True, desc=self.description, leave=True
            )
        self._bar.update(max(p.bytes_done - self._bar.n, 0))
        name = printable(p.current.name)[:40] if p.current is not None else "done"
        self._bar.set_postfix_str(
            f"{p.files_done}/{p.files_total} files, {p.lines_done:,} lines, {name}", refresh=False
        )
        if p.current is None:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_bar(description: str = "ingest") -> ProgressBar:
    """A progress bar for ``ingest``: a widget in Jupyter with ipywidgets, else text."""
    return ProgressBar(description)


def _tqdm() -> Any:
    try:
        import tqdm  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the progress bar needs tqdm: pip install -c requirements.lock -e '.[notebook]'"
        ) from exc
    if importlib.util.find_spec("ipywidgets") is None:
        # tqdm.auto would warn that ipywidgets is missing, then draw text anyway: draw text
        from tqdm.std import tqdm as text_bar

        return text_bar
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm as auto_bar
    return auto_bar
