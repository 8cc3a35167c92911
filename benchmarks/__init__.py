"""mcengine's benchmark suite, run from a checkout: ``python -m benchmarks``.

The workloads, the plain-numpy reference and the suite ship in the package
(:mod:`mcengine.bench`), so ``mcengine bench`` works from an installed wheel; this folder is
the entry point for a checkout and for asv (``asv_benchmarks.py``).
"""
