"""The package version, in a module of its own so that any layer can read it without
importing the package (and with it the engine). It is the one place the version is written:
``pyproject.toml`` reads it from here (hatchling's ``[tool.hatch.version]``), which is also
quicker at start-up than asking ``importlib.metadata``."""

__version__ = "1.6.0"

__all__ = ["__version__"]
