"""One job: build the experiment from config, train it, evaluate it, record it.

Mistakes in the config end a single run with one line and exit code 2; in a
multirun the job is recorded as ``failed`` and the sweep goes on. A diverged
training is recorded as ``status: diverged``, not as an error.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from lossbench.build import build, tasks_of
from lossbench.console import print_run_summary
from lossbench.data import Dataset
from lossbench.errors import EXIT_USAGE, ConfigError
from lossbench.evaluation import metrics
from lossbench.records import versions, write_job, write_predictions
from lossbench.report.resume import config_hash, reuse_completed
from lossbench.training.loop import DivergedError, MemberResult, Trainer, settings_from_config
from lossbench.training.optim import make_optimizer

GROUPS = ("dataset", "model", "loss", "optimizer")
GROUP_LISTS = {"loss": "losses", "model": "models"}


@dataclass
class Experiment:
    """Everything built from one job's config, ready to train."""

    data: Dataset
    trainer: Trainer


def _check_fits(cfg: DictConfig, choices: dict[str, str], data: Dataset) -> None:
    for group in ("loss", "model"):
        tasks = tasks_of(cfg[group])
        if tasks and data.task not in tasks:
            raise ConfigError(
                f"{group}={choices.get(group)} fits {'/'.join(tasks)} data, but dataset="
                f"{choices.get('dataset')} is a {data.task} dataset; "
                f"see `lossbench list {GROUP_LISTS[group]}`"
            )


def build_experiment(cfg: DictConfig, seeds: list[int], choices: dict[str, str]) -> Experiment:
    """Build data, model, loss and optimizer; validate everything before training starts."""
    data: Dataset = build("dataset", cfg.dataset)
    _check_fits(cfg, choices, data)
    settings = settings_from_config(cfg.trainer, data.task, metrics.known_metrics(data))
    model = build(
        "model",
        cfg.model,
        in_features=data.in_features,
        out_features=data.out_features,
        input_shape=list(data.train.x.shape[1:]),
        seeds=seeds,
    )
    loss_fn = build("loss", cfg.loss, **data.stats())
    optimizer = make_optimizer(build("optimizer", cfg.optimizer), model.parameters())
    return Experiment(data, Trainer(model, loss_fn, optimizer, data, settings))


def evaluate_member(
    exp: Experiment, k: int, result: MemberResult, posthoc_tau: float = 0.0
) -> dict[str, dict[str, float]]:
    """Test and validation metrics of member ``k`` at its chosen (best or last) epoch.

    ``posthoc_tau`` > 0 applies post-hoc logit adjustment to any classifier before
    scoring: predict ``argmax(z - tau * log prior)`` (Menon et al. 2021, eq. 10).
    """
    trainer, data = exp.trainer, exp.data
    if result.state is not None:
        trainer.load_member_state(k, result.state)
    out = {}
    for split_name in ("test", "val"):
        split = getattr(data, split_name)
        pred = trainer.predict(split)[k]
        if posthoc_tau and data.task == "classification":
            prior = torch.tensor(data.stats()["class_prior"], dtype=pred.dtype)
            pred = pred - posthoc_tau * prior.log()
        out[split_name] = metrics.compute(data, split.y, pred)
    return out


def _base_record(cfg: DictConfig, seed: int) -> dict[str, Any]:
    hc = HydraConfig.get()
    return {
        "status": "failed",
        "error": None,
        "seed": seed,
        "choices": {g: hc.runtime.choices.get(g) for g in GROUPS},
        "overrides": list(hc.overrides.task),
        "task": None,
        "monitor": None,
        "best_epoch": None,
        "epochs_run": 0,
        "diverged_epoch": None,
        "metrics": {},
        "val_metrics": {},
        "wall_time_s": 0.0,
        "versions": versions(),
        "config_hash": config_hash(cfg),
    }


def run_job(cfg: DictConfig) -> float | None:
    """Hydra task function body: returns the best validation monitor value (for sweepers)."""
    start = time.perf_counter()
    torch.set_num_threads(int(cfg.trainer.num_threads))
    torch.manual_seed(int(cfg.seed))
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    seed = int(cfg.seed)
    record = _base_record(cfg, seed)
    if multirun:
        hc = HydraConfig.get()
        done = reuse_completed(
            cfg, record["config_hash"], out_dir, Path(hc.sweep.dir), record["overrides"]
        )
        if done is not None:
            print(f"resumed: already completed in {done['resumed_from']}; not trained again")
            return done.get("best_value")
    history: list[dict[str, Any]] = []
    try:
        exp = build_experiment(cfg, [seed], record["choices"])
        record["task"] = exp.data.task
        if exp.data.task == "classification":
            record["class_counts"] = exp.data.class_counts()
        record["monitor"] = exp.trainer.settings.monitor
        (result,) = exp.trainer.fit()
        history = result.history
        record.update(
            status=result.status,
            best_epoch=result.best_epoch,
            epochs_run=result.epochs_run,
            diverged_epoch=result.diverged_epoch,
            best_value=result.best_value,
        )
        if result.status == "completed":
            evaluated = evaluate_member(exp, 0, result, float(cfg.eval.posthoc_tau))
            record.update(metrics=evaluated["test"], val_metrics=evaluated["val"])
            if exp.data.task == "forecast":
                test = exp.data.test
                write_predictions(out_dir, test.x, test.y, exp.trainer.predict(test)[0])
    except (ConfigError, DivergedError) as exc:
        return _fail(
            record,
            history,
            out_dir,
            start,
            str(exc),
            multirun,
            EXIT_USAGE if isinstance(exc, ConfigError) else 1,
        )
    except Exception as exc:  # an unexpected failure: keep the traceback in the record
        record["traceback"] = traceback.format_exc()
        return _fail(record, history, out_dir, start, f"{type(exc).__name__}: {exc}", multirun, 1)
    record["wall_time_s"] = time.perf_counter() - start
    write_job(out_dir, record, history)
    print_run_summary(record, str(out_dir))
    return result.best_value


def _fail(
    record: dict[str, Any],
    history: list[dict[str, Any]],
    out_dir: Path,
    start: float,
    message: str,
    multirun: bool,
    code: int,
) -> None:
    """Record the failure; end a single run with ``code``, let a sweep go on."""
    record.update(status="failed", error=message, wall_time_s=time.perf_counter() - start)
    write_job(out_dir, record, history)
    print(f"error: {message}", file=sys.stderr)
    if not multirun:
        raise SystemExit(code)
    return None
