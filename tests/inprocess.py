"""Run a job in this process (Hydra's compose API): the runner without a subprocess."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from lossbench.log import setup
from lossbench.plan import GROUPS, JobContext
from lossbench.registry import config_dir
from lossbench.runner import run_members


def composed(overrides: list[str]) -> tuple[DictConfig, dict[str, str | None]]:
    """The job config of ``lossbench run OVERRIDES`` and its group choices."""
    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        cfg = compose("config", overrides, return_hydra_config=True)
    choices = {g: cfg.hydra.runtime.choices.get(g) for g in GROUPS}
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices


def run_inprocess(
    overrides: list[str], out_dir: Path, multirun: bool = False, sweep_dir: Path | None = None
) -> float | None:
    """``lossbench run OVERRIDES`` writing to ``out_dir``, in this process."""
    setup()
    cfg, choices = composed(overrides)
    ctx = JobContext(
        out_dir=out_dir,
        multirun=multirun,
        overrides=list(overrides),
        choices=choices,
        sweep_dir=sweep_dir or out_dir.parent,
    )
    return run_members(cfg, ctx)
