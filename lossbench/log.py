"""Run messages through Python :mod:`logging`, printed on the console as before.

Convention: a module logs with ``log = logging.getLogger(__name__)``, so every logger is a
child of the ``lossbench`` logger (``lossbench.runner``, ``lossbench.report.callback``...).
INFO is a message for the user (stdout), WARNING and above a problem (stderr); the text is
the line the user sees, unformatted. A rich renderable (a table) is logged as its plain
text with ``extra={"rich": renderable}``: the console prints the renderable with colour,
every other handler gets the text.

:func:`console_handler` gives the ``lossbench`` logger its console handler when the
package is imported (so a command's output shows however it is called: the CLI, a test,
a launcher's worker); :func:`setup` also keeps Hydra's console handler from printing
lossbench's records twice. The logger propagates
to the root logger, where Hydra's ``hydra/job_logging`` installs the job's file handler
(``<job dir>/lossbench.log``), so the job log holds what was printed; Hydra's own root
console handler is told to skip ``lossbench`` records so nothing prints twice.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Any

LOGGER = "lossbench"


class ConsoleHandler(logging.Handler):
    """INFO to ``sys.stdout``, WARNING+ to ``sys.stderr`` (looked up at each message, so
    redirections apply); rich renderables through a rich console."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
            renderable = getattr(record, "rich", None)
            if renderable is not None:
                console(stream, renderable).print(renderable, soft_wrap=isinstance(renderable, str))
            else:
                stream.write(record.getMessage() + "\n")
                stream.flush()
        except Exception:
            self.handleError(record)


class NotLossbench(logging.Filter):
    """Drops records of the ``lossbench`` loggers (they have their own console handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == LOGGER or record.name.startswith(LOGGER + "."))


def console(stream: Any = None, renderable: Any = None):
    """A rich console on ``stream`` (stdout by default): the terminal's width; in a file
    or pipe (where rich assumes 80 columns, which folds configuration names and cuts a
    wide per-seed table) 160 columns or as wide as ``renderable`` needs, unless
    ``COLUMNS`` says otherwise."""
    import os

    from rich.console import Console

    found = Console(file=stream or sys.stdout)
    if found.is_terminal or "COLUMNS" in os.environ:
        return found
    width = 160
    if renderable is not None:
        width = max(width, Console(width=10_000).measure(renderable).maximum)
    return Console(file=stream or sys.stdout, width=width)


def plain(renderable: Any, width: int = 160) -> str:
    """The text of a rich renderable without colour, as a log file holds it."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(renderable)
    return buffer.getvalue().rstrip("\n")


def show(log: logging.Logger, renderable: Any, level: int = logging.INFO) -> None:
    """Log a rich renderable: colour on the console, its plain text in the job log."""
    text = plain(renderable)
    if "\n" in text:  # a table starts on its own line in the log file
        text = "\n" + text
    log.log(level, text, extra={"rich": renderable})


def console_handler() -> logging.Logger:
    """The ``lossbench`` logger at INFO with its console handler (attached once)."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(h, ConsoleHandler) for h in logger.handlers):
        logger.addHandler(ConsoleHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = True
    return logger


def setup() -> logging.Logger:
    """:func:`console_handler`, and keep the root logger's console handlers (Hydra's job
    logging puts one there) from printing lossbench's records a second time."""
    logger = console_handler()
    std = {sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__}
    for handler in logging.getLogger().handlers:
        if (
            isinstance(handler, logging.StreamHandler)
            and not isinstance(handler, logging.FileHandler)
            and handler.stream in std
            and not any(isinstance(f, NotLossbench) for f in handler.filters)
        ):
            handler.addFilter(NotLossbench())
    return logger
