"""``python -m mcengine`` is the ``mcengine`` command."""

from mcengine.cli import main

main()
