"""``lossbench run``: the Hydra application.

Only Hydra is imported here; torch and the training stack load inside the task
function, so ``lossbench run --help`` and ``--cfg job`` answer quickly.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from lossbench.registry import config_dir


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def _task(cfg: DictConfig) -> float | None:
    # Here, not only in the CLI: launchers (joblib, submitit, Ray) call this function in
    # their own worker processes, after Hydra has configured that job's logging.
    from lossbench.log import setup
    from lossbench.runner import run_job

    setup()
    return run_job(cfg)


def main(argv: list[str]) -> int:
    """Run the Hydra app with ``argv`` as its command line."""
    sys.argv = [sys.argv[0], *argv]
    _task()
    return 0
