"""asv's entry point: the classes live in the package (mcengine.bench.asv)."""

from mcengine.bench.asv import *  # noqa: F403
