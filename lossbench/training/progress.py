"""A rich progress bar over epochs, silent when output is not a terminal."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class EpochProgress:
    """``with EpochProgress(epochs) as bar: bar.update(epoch, "train 0.31 val 0.35")``."""

    def __init__(self, epochs: int, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stdout.isatty()
        self._progress = Progress(
            TextColumn("[bold]epoch"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            disable=not self.enabled,
            transient=False,
        )
        self._task = self._progress.add_task("train", total=epochs, status="")

    def __enter__(self) -> EpochProgress:
        self._progress.start()
        return self

    def update(self, epoch: int, status: str) -> None:
        self._progress.update(self._task, completed=epoch, status=status)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
