"""``python -m lossbench`` is the same as the ``lossbench`` command."""

from lossbench.cli import console

console()
