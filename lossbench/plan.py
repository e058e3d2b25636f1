"""What one job trains: its members (data split x seed), their directories and records.

A plain run trains one member: ``dataset.seed`` (its split) and ``seed``, files in
the job directory. ``seeds`` adds seeds and ``splits`` adds data splits
(``dataset.seed`` values); the job then trains every (split, seed) pair, and each
member is recorded exactly as the single run ``dataset.seed=<split> seed=<seed>``
would be: same ``overrides``, same ``config_hash``, so resume and the report treat
it as that run. Nothing here trains; this is bookkeeping only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from lossbench.errors import ConfigError
from lossbench.records import versions
from lossbench.resume import config_hash

GROUPS = ("dataset", "model", "loss", "optimizer", "sampler")


@dataclass(frozen=True)
class JobContext:
    """What a job knows from Hydra: where it writes, its command line, its choices."""

    out_dir: Path
    multirun: bool
    overrides: list[str]
    choices: dict[str, str | None]
    sweep_dir: Path

    @classmethod
    def from_hydra(cls) -> JobContext:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        return cls(
            out_dir=Path(hc.runtime.output_dir),
            multirun=hc.mode == RunMode.MULTIRUN,
            overrides=list(hc.overrides.task),
            choices={g: hc.runtime.choices.get(g) for g in GROUPS},
            sweep_dir=Path(hc.sweep.dir),
        )


@dataclass
class Member:
    """One (split, seed) of a job: where its files go and its record (filled as it trains)."""

    split: int | None  # dataset.seed of its data; None for a dataset with a fixed split
    seed: int
    directory: Path
    record: dict[str, Any]


@dataclass
class Plan:
    """The members of one job, split-major; ``seeds``/``splits`` as set (None = not set)."""

    seeds: list[int] | None
    splits: list[int] | None
    members: list[Member]

    @property
    def batched(self) -> bool:
        """Members are recorded as single runs in their own directories."""
        return self.seeds is not None or self.splits is not None

    def by_split(self, members: list[Member] | None = None) -> list[list[Member]]:
        """``members`` (default: all) grouped by split, in plan order: one training each."""
        groups: dict[int | None, list[Member]] = {}
        for m in self.members if members is None else members:
            groups.setdefault(m.split, []).append(m)
        return list(groups.values())


def _replicates(value: Any, base: int, key: str, what: str) -> list[int] | None:
    """``null`` -> None; ``N`` -> ``base..base+N-1``; a list of distinct integers -> itself."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"{key} must be null, a count >= 1 or a list of {what}, got {value}")
        return [base + i for i in range(value)]
    items = list(value) if OmegaConf.is_list(value) or isinstance(value, list) else None
    if (
        not items
        or any(not isinstance(s, int) or isinstance(s, bool) for s in items)
        or len(set(items)) != len(items)
    ):
        raise ConfigError(
            f"{key} must be null, a count >= 1 or a list of distinct integer {what}, got {value}"
        )
    return [int(s) for s in items]


def job_seeds(cfg: DictConfig) -> list[int] | None:
    """The seeds one job trains side by side, or None for a plain single-seed run.

    ``seeds: null`` (default): one run with ``seed``, files directly in the job dir.
    ``seeds: N``: the N seeds ``seed, seed+1, ..., seed+N-1``.
    ``seeds: [a, b, ...]``: exactly those seeds (distinct integers).
    """
    return _replicates(cfg.get("seeds"), int(cfg.get("seed", 0)), "seeds", "seeds")


def data_split(cfg: DictConfig) -> int | None:
    """The job's data split: ``dataset.seed``, or None for a dataset with a fixed split."""
    value = OmegaConf.select(cfg, "dataset.seed", default=None)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def job_splits(cfg: DictConfig, dataset: str | None = None) -> list[int] | None:
    """The data splits (``dataset.seed`` values) one job trains, or None when ``splits`` is unset.

    ``splits: N``: ``dataset.seed, dataset.seed+1, ..., +N-1``; ``splits: [a, b, ...]``:
    exactly those. A dataset without a ``seed`` (a fixed chronological split) has
    one split only.
    """
    value = cfg.get("splits")
    if value is None:
        return None
    base = data_split(cfg)
    if base is None:
        raise ConfigError(
            f"splits needs a dataset with a seed, but dataset={dataset} has a fixed split; "
            "remove splits"
        )
    return _replicates(value, base, "splits", "dataset seeds")


def _key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def member_overrides(overrides: list[str], split: int | None, seed: int) -> list[str]:
    """A batched job's overrides as the single run of (``split``, ``seed``) would have them:
    ``seeds``/``splits`` dropped, then ``dataset.seed=<split>`` (None: left as given) and
    ``seed=<seed>`` last."""
    dropped = {"seed", "seeds", "splits"} | (set() if split is None else {"dataset.seed"})
    kept = [o for o in overrides if _key(o) not in dropped]
    return [*kept, *([] if split is None else [f"dataset.seed={split}"]), f"seed={seed}"]


def member_config(cfg: DictConfig, split: int | None, seed: int) -> DictConfig:
    """The config of the single run of (``split``, ``seed``): what a member is equivalent to.

    ``split`` None leaves ``dataset.seed`` as it is.
    """
    single = copy.deepcopy(cfg)
    with open_dict(single):
        single.seed, single.seeds = seed, None
        if "splits" in single:
            single.splits = None
        if split is not None:
            single.dataset.seed = split
    return single


def member_dir(out_dir: Path, split: int | None, seed: int, plan: Plan) -> Path:
    """Where a member's files go: the job dir (a plain run), ``seed_<s>/`` (``seeds`` only)
    or ``split_<d>/seed_<s>/`` (``splits`` set)."""
    if plan.splits is not None:
        return out_dir / f"split_{split}" / f"seed_{seed}"
    return out_dir / f"seed_{seed}" if plan.seeds is not None else out_dir


def blank_record(
    ctx: JobContext, seed: Any, split: int | None, job_versions: dict[str, Any]
) -> dict[str, Any]:
    """Every key of a record, as a ``failed`` member that has not trained: what
    :func:`base_record` fills in, and what a job whose config fails validation writes
    (``seed`` as given, no ``config_hash``: an invalid config is never resumed)."""
    return {
        "status": "failed",
        "error": None,
        "seed": seed,
        "split": split,
        "choices": dict(ctx.choices),
        "overrides": list(ctx.overrides),
        "task": None,
        "monitor": None,
        "best_epoch": None,
        "best_value": None,
        "eligible_from_epoch": None,
        "epochs_run": 0,
        "diverged_epoch": None,
        "metrics": {},
        "val_metrics": {},
        "warnings": [],
        "wall_time_s": 0.0,
        "versions": copy.deepcopy(job_versions),
        "config_hash": None,
    }


def base_record(
    cfg: DictConfig,
    ctx: JobContext,
    plan: Plan,
    split: int | None,
    seed: int,
    job_versions: dict[str, Any],
) -> dict[str, Any]:
    """A complete ``failed`` record of one member, to be filled as it trains.

    ``config_hash`` and ``overrides`` are those of the equivalent single run, so
    resume matches a member whether it was trained alone or in a batch.
    ``job_versions`` (:func:`lossbench.records.versions`, read once per job: it runs
    git) is the same for every member and copied into each record.
    """
    record = blank_record(ctx, seed, split, job_versions)
    if plan.batched:
        record["overrides"] = member_overrides(
            ctx.overrides, split if plan.splits else None, seed
        )
    record["config_hash"] = config_hash(
        member_config(cfg, split if plan.splits else None, seed) if plan.batched else cfg
    )
    if plan.seeds is not None:
        record["seeds"] = list(plan.seeds)
    if plan.splits is not None:
        record["splits"] = list(plan.splits)
    return record


def make_plan(cfg: DictConfig, ctx: JobContext) -> Plan:
    """Every member of the job, split-major; ConfigError for a bad ``seeds``/``splits``."""
    seeds = job_seeds(cfg)
    splits = job_splits(cfg, ctx.choices.get("dataset"))
    plan = Plan(seeds, splits, [])
    job_versions = versions(cfg)
    for split in splits if splits is not None else [data_split(cfg)]:
        for seed in seeds if seeds is not None else [int(cfg.seed)]:
            directory = member_dir(ctx.out_dir, split, seed, plan)
            record = base_record(cfg, ctx, plan, split, seed, job_versions)
            plan.members.append(Member(split, seed, directory, record))
    return plan


def single_plan(cfg: DictConfig, ctx: JobContext) -> Plan:
    """The plain single-run plan (what a job whose ``seeds``/``splits`` are invalid records)."""
    plan = Plan(None, None, [])
    split, seed = data_split(cfg), int(cfg.seed)
    record = base_record(cfg, ctx, plan, split, seed, versions(cfg))
    plan.members.append(Member(split, seed, ctx.out_dir, record))
    return plan
