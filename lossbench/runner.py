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
from omegaconf import DictConfig, OmegaConf, open_dict

from lossbench.build import build, import_target, tasks_of
from lossbench.console import print_job_line, print_run_summary, print_seeds_summary
from lossbench.data import Dataset
from lossbench.errors import EXIT_USAGE, ConfigError
from lossbench.evaluation import metrics
from lossbench.faults import exit_with_parent, fail_before_start
from lossbench.records import versions, write_job, write_predictions
from lossbench.report.resume import config_hash, reuse_completed
from lossbench.schema import validate
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
    stats = data.stats()
    losses = [build("loss", cfg.loss, **stats) for _ in seeds]  # one instance per member
    optimizer = make_optimizer(build("optimizer", cfg.optimizer), model.parameters())
    return Experiment(data, Trainer(model, losses, optimizer, data, settings))


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


def job_seeds(cfg: DictConfig) -> list[int] | None:
    """The seeds one job trains side by side, or None for a plain single-seed run.

    ``seeds: null`` (default): one run with ``seed``, files directly in the job dir.
    ``seeds: N``: the N seeds ``seed, seed+1, ..., seed+N-1``.
    ``seeds: [a, b, ...]``: exactly those seeds (distinct integers).
    """
    value = cfg.get("seeds")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"seeds must be null, a count >= 1 or a list of seeds, got {value}")
        return [int(cfg.seed) + i for i in range(value)]
    items = list(value) if OmegaConf.is_list(value) else None
    if (
        not items
        or any(not isinstance(s, int) or isinstance(s, bool) for s in items)
        or len(set(items)) != len(items)
    ):
        raise ConfigError(
            f"seeds must be null, a count >= 1 or a list of distinct integer seeds, got {value}"
        )
    return [int(s) for s in items]


def _member_overrides(overrides: list[str], seed: int) -> list[str]:
    """A batched job's overrides as a single-seed run of ``seed`` would have them."""
    kept = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] not in ("seed", "seeds")]
    return [*kept, f"seed={seed}"]


def member_config(cfg: DictConfig, seed: int) -> DictConfig:
    """The config of a single-seed run of ``seed``: what a batched member is equivalent to."""
    single = cfg.copy()
    with open_dict(single):
        single.seed, single.seeds = seed, None
    return single


def _base_record(cfg: DictConfig, seed: int, group: list[int] | None) -> dict[str, Any]:
    """A complete ``failed`` record of ``seed``; ``group`` = the seeds trained with it, if any.

    ``config_hash`` is that of the equivalent single-seed run, so resume matches a
    seed whether it was trained alone or in a batch.
    """
    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    record = {
        "status": "failed",
        "error": None,
        "seed": seed,
        "choices": {g: hc.runtime.choices.get(g) for g in GROUPS},
        "overrides": overrides if group is None else _member_overrides(overrides, seed),
        "task": None,
        "monitor": None,
        "best_epoch": None,
        "epochs_run": 0,
        "diverged_epoch": None,
        "metrics": {},
        "val_metrics": {},
        "wall_time_s": 0.0,
        "versions": versions(cfg),
        "config_hash": config_hash(cfg if group is None else member_config(cfg, seed)),
    }
    if group is not None:
        record["seeds"] = list(group)
    return record


def fill_member_record(
    record: dict[str, Any], exp: Experiment, k: int, result: MemberResult, posthoc_tau: float
) -> None:
    """Copy member ``k``'s training outcome and (if it completed) its metrics into ``record``."""
    record.update(
        status=result.status,
        best_epoch=result.best_epoch,
        epochs_run=result.epochs_run,
        diverged_epoch=result.diverged_epoch,
        best_value=result.best_value,
    )
    if result.status == "completed":
        evaluated = evaluate_member(exp, k, result, posthoc_tau)
        record.update(metrics=evaluated["test"], val_metrics=evaluated["val"])


def loss_is_batchable(cfg: DictConfig) -> bool:
    """False if the loss's class (or function) sets ``batchable = False``.

    Each member gets its own loss instance, so a loss with state trains batched
    exactly as alone; only a loss whose result depends on something shared across
    members (e.g. draws from torch's global random stream) must opt out.
    """
    try:  # as the loss is built: also found in the current directory
        target = import_target("loss", cfg.loss._target_)
    except Exception:  # reported as a ConfigError when the loss is built
        return True
    return bool(getattr(target, "batchable", True))


def _train_group(
    cfg: DictConfig, seeds: list[int], records: list[dict[str, Any]], dirs: list[Path]
) -> list[MemberResult]:
    """Train ``seeds`` as one stacked model; fill each seed's record; return the results.

    Forecast jobs also save each seed's first test windows (``predictions.npz``)
    into its directory in ``dirs``, for the report's forecast plot.
    """
    exp = build_experiment(cfg, seeds, records[0]["choices"])
    data = exp.data
    for record in records:
        record.update(task=data.task, monitor=exp.trainer.settings.monitor)
        if data.task == "classification":
            record["class_counts"] = data.class_counts()
    results = exp.trainer.fit()
    for k, (record, result) in enumerate(zip(records, results, strict=True)):
        fill_member_record(record, exp, k, result, float(cfg.eval.posthoc_tau))
        if data.task == "forecast" and result.status == "completed":
            # evaluate_member left member k at its evaluated state
            write_predictions(dirs[k], data.test.x, data.test.y, exp.trainer.predict(data.test)[k])
    return results


def member_dir(out_dir: Path, seed: int, batched: bool) -> Path:
    """Where a seed's files go: the job dir itself, or ``<job dir>/seed_<seed>`` when batched."""
    return out_dir / f"seed_{seed}" if batched else out_dir


def run_job(cfg: DictConfig) -> float | None:
    """Hydra task function body: returns the mean best validation monitor value (for sweepers).

    With ``seeds`` set, all seeds train in one batched pass (one stacked model,
    one optimizer) and each seed's record and history are written to its own
    ``seed_<s>/`` directory, identical to what a single run of that seed writes
    (apart from ``overrides``, ``seeds`` and the wall time).
    """
    start = time.perf_counter()
    exit_with_parent()  # a joblib worker ends with a killed main process
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:  # the whole config, before anything reads it (seed=abc in a sweep: this job fails)
        validate(cfg)
    except ConfigError as exc:
        return fail_before_start(cfg, out_dir, str(exc), multirun)
    torch.set_num_threads(int(cfg.trainer.num_threads))
    torch.manual_seed(int(cfg.seed))
    try:
        group = job_seeds(cfg)
    except ConfigError as exc:
        record = _base_record(cfg, int(cfg.seed), None)
        return _fail([record], out_dir, False, start, str(exc), multirun, EXIT_USAGE)
    batched = group is not None
    seeds = group if batched else [int(cfg.seed)]
    records = [_base_record(cfg, s, group) for s in seeds]
    dirs = [member_dir(out_dir, s, batched) for s in seeds]
    resumed = _resume(cfg, records, dirs) if multirun else {}
    if len(resumed) == len(seeds):
        where = ", ".join(sorted({r["resumed_from"] for r in resumed.values()}))
        print(f"resumed: already completed in {where}; not trained again")
        return _mean_best(list(resumed.values()))
    pending = [i for i, s in enumerate(seeds) if s not in resumed]
    seeds, records, dirs = ([items[i] for i in pending] for items in (seeds, records, dirs))
    results: list[MemberResult] = []
    try:
        parts = [slice(0, len(seeds))]  # all seeds in one stacked model
        if batched and not loss_is_batchable(cfg):
            print(
                f"note: loss={records[0]['choices']['loss']} sets batchable = False; "
                f"training its {len(seeds)} seeds one after another",
                file=sys.stderr,
            )
            parts = [slice(i, i + 1) for i in range(len(seeds))]
        for part in parts:
            if len(parts) > 1:  # as a single run of this seed would
                torch.manual_seed(seeds[part][0])
            results += _train_group(cfg, seeds[part], records[part], dirs[part])
    except (ConfigError, DivergedError) as exc:
        code = EXIT_USAGE if isinstance(exc, ConfigError) else 1
        return _fail(records, out_dir, batched, start, str(exc), multirun, code)
    except Exception as exc:  # an unexpected failure: keep the traceback in the record
        for record in records:
            record["traceback"] = traceback.format_exc()
        message = f"{type(exc).__name__}: {exc}"
        return _fail(records, out_dir, batched, start, message, multirun, 1)
    _write_all(records, [r.history for r in results], out_dir, batched, start)
    if multirun:
        print_job_line(records)
    elif batched:
        print_seeds_summary(records, str(out_dir))
    else:
        print_run_summary(records[0], str(out_dir))
    return _mean_best([*records, *resumed.values()])


def _resume(
    cfg: DictConfig, records: list[dict[str, Any]], dirs: list[Path]
) -> dict[int, dict[str, Any]]:
    """Seeds already completed by an earlier sweep (matched by config hash), copied into place."""
    hc = HydraConfig.get()
    found = {}
    for record, directory in zip(records, dirs, strict=True):
        done = reuse_completed(
            cfg, record["config_hash"], directory, Path(hc.sweep.dir), record["overrides"]
        )
        if done is not None:
            found[record["seed"]] = done
    return found


def _mean_best(records: list[dict[str, Any]]) -> float | None:
    """Mean best validation monitor value of the completed seeds (what a sweeper optimises)."""
    best = [
        r["best_value"]
        for r in records
        if r.get("status") == "completed" and r.get("best_value") is not None
    ]
    return sum(best) / len(best) if best else None


def _write_all(
    records: list[dict[str, Any]],
    histories: list[list[dict[str, Any]]],
    out_dir: Path,
    batched: bool,
    start: float,
) -> None:
    """Write every member's files; a batched job's wall time is shared equally by its seeds."""
    elapsed = time.perf_counter() - start
    for record, history in zip(records, histories, strict=True):
        record["wall_time_s"] = elapsed / len(records)
        if batched:
            record["job_wall_time_s"] = elapsed
        write_job(member_dir(out_dir, record["seed"], batched), record, history)


def _fail(
    records: list[dict[str, Any]],
    out_dir: Path,
    batched: bool,
    start: float,
    message: str,
    multirun: bool,
    code: int,
) -> None:
    """Record the failure for every seed; end a single run with ``code``, let a sweep go on."""
    for record in records:
        record.update(status="failed", error=message)
    _write_all(records, [[] for _ in records], out_dir, batched, start)
    print(f"error: {message}", file=sys.stderr)
    if not multirun:
        raise SystemExit(code)
    return None
