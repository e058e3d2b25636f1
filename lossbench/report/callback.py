"""The Hydra callback that writes the report into the sweep directory after a multirun.

Registered in ``configs/config.yaml`` under ``hydra.callbacks.report``. It reads the
job directories from disk, so it works the same with every launcher. A problem in
the report is logged as one line; it never turns a finished sweep into a failure.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def options_from_config(node: Any):
    """``report.*`` options (metric, baseline, alpha, plots) as :class:`Options`."""
    from dataclasses import fields

    from lossbench.report.summary import Options

    values = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    names = {f.name for f in fields(Options)}
    return Options(**{k: v for k, v in values.items() if k in names})


class ReportCallback(Callback):
    """After the last job: ``results.csv``, ``summary.csv``, ``summary.md``, ``plots/``."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check the ``report`` options before any job trains: a bad ``report.alpha``
        is one line and exit status 2, not a report that fails after the sweep."""
        try:
            options_from_config(config.get("report")).validate()
        except (TypeError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        # Imported here so single runs and `--help` do not pay for pandas/scipy/matplotlib.
        from lossbench.log import setup
        from lossbench.report import make_report
        from lossbench.report.tables import print_console

        setup()  # the launcher's logging may have replaced the root handlers since the jobs

        sweep_dir = Path(str(config.hydra.sweep.dir))
        options = options_from_config(config.get("report"))
        try:
            report = make_report([sweep_dir], sweep_dir, options)
        except (OSError, ValueError) as exc:
            log.error(f"report: {exc}")
            return
        print_console(report.summary, options)
        log.info(f"report: {sweep_dir}/report.html, summary.md, summary.csv, results.csv, plots/")
