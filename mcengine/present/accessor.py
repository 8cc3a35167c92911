"""``ds.mcengine``: the terminal's summary table on any result, as HTML in a notebook.

Registered on :class:`xarray.Dataset` when :mod:`mcengine` is imported (xarray's accessor
idiom)::

    ds = mcengine.simulate("base", 100_000, seed=1)
    ds.mcengine.summary()  # the summary Dataset, as mcengine.summarize(ds)
    ds.mcengine.table()  # shows the table: HTML in a notebook, text in a console
    ds.mcengine  # the same table

It works on kept paths, on a summary-only run and on a result file read back. Rendering
only: the tables are the ones of :mod:`mcengine.present.text` (text) and
:mod:`mcengine.present.html` (HTML), imported when first shown.
"""

from __future__ import annotations

import html
import io

import xarray as xr

from mcengine.stats.summary import summarize
from mcengine.stats.tails import EQUAL_WEIGHTS

__all__ = ["MCEngineAccessor", "SummaryTable", "TEXT_WIDTH"]

#: Columns of the text table (rich's own width for a console that is not a terminal).
TEXT_WIDTH = 100


class SummaryTable:
    """A run's summary that shows itself as the terminal's table: ``repr`` (and IPython's
    pretty printer) give the text of ``mcengine run``, ``_repr_html_`` an HTML table of each
    statistic per segment with ± one Monte Carlo standard error. ``summary`` is the
    Dataset."""

    def __init__(self, summary: xr.Dataset) -> None:
        dims = summary["estimate"].dims if "estimate" in summary else ()
        if set(dims) != {"segment", "statistic"}:
            raise TypeError(
                "ds.mcengine.table() shows one run's summary (estimate by segment and "
                f"statistic), not estimate{tuple(dims)}: select one scenario or grid point first"
            )
        self.summary = summary

    def __repr__(self) -> str:
        from rich.console import Console

        from mcengine.present.text import render_summary

        buffer = io.StringIO()
        # Plain text, even inside a notebook kernel (where rich would display it instead).
        console = Console(
            file=buffer, width=TEXT_WIDTH, highlight=False, color_system=None, force_jupyter=False
        )
        render_summary(self.summary, console=console)
        return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        from mcengine.present.format import run_title
        from mcengine.present.html import summary_table

        title = html.escape(run_title(self.summary.attrs))
        return f"<p><b>{title}</b></p>{summary_table(self.summary)}"


@xr.register_dataset_accessor("mcengine")
class MCEngineAccessor:
    """``ds.mcengine`` on a result of :func:`mcengine.simulate` (kept paths or a summary),
    or a result file read back: :meth:`summary` and :meth:`table`; shown on its own, it is
    the table."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def summary(self, portfolio_weights=EQUAL_WEIGHTS) -> xr.Dataset:
        """The summary: :func:`mcengine.summarize` of this result (a summary as it is).

        Parameters
        ----------
        portfolio_weights : sequence or array of 3 floats, default equal
            As in :func:`mcengine.summarize`.
        """
        return summarize(self._ds, portfolio_weights)

    def table(self, portfolio_weights=EQUAL_WEIGHTS) -> SummaryTable:
        """The summary as a :class:`SummaryTable`: the terminal's text as its ``repr``, an
        HTML table in a notebook (``_repr_html_``).

        Parameters
        ----------
        portfolio_weights : sequence or array of 3 floats, default equal
            As in :func:`mcengine.summarize`.
        """
        return SummaryTable(self.summary(portfolio_weights))

    def __repr__(self) -> str:
        return repr(self.table())

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()
