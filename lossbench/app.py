"""``lossbench run``: the Hydra application.

Only Hydra is imported here; torch and the training stack load inside the task
function, so ``lossbench run --help`` and ``--cfg job`` answer quickly.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import hydra
from omegaconf import DictConfig

from lossbench.registry import config_dir

# At most this many composed job configs wait between Hydra's validation and launch.
MAX_CACHED_CONFIGS = 256


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def _task(cfg: DictConfig) -> float | None:
    # Here, not only in the CLI: launchers (joblib, submitit, Ray) call this function in
    # their own worker processes, after Hydra has configured that job's logging.
    from lossbench.log import setup
    from lossbench.runner import run_job

    setup()
    return run_job(cfg)


@contextlib.contextmanager
def compose_once() -> Iterator[None]:
    """In a multirun, compose each job's config once instead of twice.

    Hydra's sweeper composes every job's config to validate the batch before it
    launches anything, and the launcher then composes the same config again to run
    the job (~0.1 s each on a quiet machine, a tenth of a small job). Inside this
    context the config loader keeps a copy of what the validation composed (at most
    ``MAX_CACHED_CONFIGS``, oldest dropped) and hands it to the launcher's identical
    call; anything else composes as before. Restored on exit.
    """
    try:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        original = ConfigLoaderImpl.load_sweep_config
    except (ImportError, AttributeError):  # another Hydra layout: compose as usual
        yield
        return
    cache: OrderedDict[tuple[Any, ...], DictConfig] = OrderedDict()

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]):
        key = (id(self), id(master_config), tuple(sweep_overrides))
        if key in cache:
            return cache.pop(key)
        cfg = original(self, master_config, sweep_overrides)
        cache[key] = copy.deepcopy(cfg)  # the caller may change its copy
        while len(cache) > MAX_CACHED_CONFIGS:
            cache.popitem(last=False)
        return cfg

    ConfigLoaderImpl.load_sweep_config = load_sweep_config  # type: ignore[method-assign]
    try:
        yield
    finally:
        ConfigLoaderImpl.load_sweep_config = original  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    """Run the Hydra app with ``argv`` as its command line."""
    from lossbench.faults import run_guarded
    from lossbench.sweepargs import sweep_safe, tolerant_batches

    sys.argv = [sys.argv[0], *sweep_safe(argv)]

    def run() -> int:
        with compose_once(), tolerant_batches():
            _task()
        return 0

    return run_guarded(run)
