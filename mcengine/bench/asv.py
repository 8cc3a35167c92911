"""airspeed-velocity (asv) benchmark classes over :data:`mcengine.bench.WORKLOADS`.

asv finds classes by name in its ``benchmarks/`` folder; put ``from mcengine.bench.asv
import *`` in a file there (this repository's ``benchmarks/asv_benchmarks.py`` does). asv
calls ``setup`` before timing, which compiles or loads the kernel, so ``time_*`` sees a warm
engine; the parameter is the workload's name.
"""

from __future__ import annotations

from mcengine.bench import WORKLOADS, execute, prepare

__all__ = ["TimeWorkloads", "PeakMemSummaryOnly"]


class TimeWorkloads:
    """Wall time of every workload at its full size."""

    params = [list(WORKLOADS)]
    param_names = ["workload"]
    timeout = 600

    def setup(self, name: str) -> None:
        prepare(name)

    def time_workload(self, name: str) -> None:
        execute(name)


class PeakMemSummaryOnly:
    """Peak memory of a streamed run: the summary's histograms are fixed-size."""

    def setup(self) -> None:
        prepare("summary_only")

    def peakmem_summary_only(self) -> None:
        execute("summary_only")
