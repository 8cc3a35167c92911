"""The package version, in a module of its own so that any layer can read it without
importing the package (and with it the engine)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcengine")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "1.2.0+unknown"

__all__ = ["__version__"]
