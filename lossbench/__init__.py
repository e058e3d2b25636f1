"""lossbench: design a loss for a hard problem and prove it helps.

Importing the package is cheap (no torch): the CLI's ``--help``, ``--version``
and ``list`` answer without loading the training stack.
"""

from lossbench.log import console_handler as _console_handler

__version__ = "0.1.0"

_console_handler()  # messages of the lossbench.* loggers print on the console
