"""``lossbench run``: the Hydra application.

Only Hydra is imported here; torch and the training stack load inside the task
function, so ``lossbench run --help`` and ``--cfg job`` answer quickly.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="pkg://lossbench.configs", config_name="config")
def _task(cfg: DictConfig) -> float | None:
    from lossbench.runner import run_job

    return run_job(cfg)


def main(argv: list[str]) -> int:
    """Run the Hydra app with ``argv`` as its command line."""
    from lossbench.faults import run_guarded

    sys.argv = [sys.argv[0], *argv]
    return run_guarded(_task)
