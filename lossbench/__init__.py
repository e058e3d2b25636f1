"""lossbench: design a loss for a hard problem and prove it helps.

Importing the package is cheap (no torch): the CLI's ``--help``, ``--version``
and ``list`` answer without loading the training stack.
"""

__version__ = "0.1.0"
